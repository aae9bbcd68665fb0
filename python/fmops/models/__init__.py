"""Models below every stage: tiny (built locally) and loading (where a model comes from, the chat-template rule)."""
