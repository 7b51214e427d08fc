"""Notebook support: debug one step in the kernel, run a notebook as a step, export a run."""
