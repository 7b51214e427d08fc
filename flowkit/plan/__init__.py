"""The plan: what runs, what is cloned or reused and why; pure decisions, no I/O of its own."""
