"""Surfaces: what the user sees of a run (terminal view; later the notebook widget and web UI)."""
