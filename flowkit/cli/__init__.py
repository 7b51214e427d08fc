"""The command line: ``python flow.py ...`` per flow, and the ``flowkit`` command."""
