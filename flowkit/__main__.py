"""``python -m flowkit``: the ``flowkit`` command."""

from flowkit.cli.main import main

main()
