"""Serving: the local OpenAI-compatible server, the cluster manifests (vLLM), rollout and the smoke test."""
