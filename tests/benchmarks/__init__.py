"""Tests of the flowkit-vs-Metaflow benchmark harness."""
