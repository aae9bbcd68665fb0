"""The local executor: runs the committed Argo WorkflowTemplates on this machine (`fmops run`)."""
