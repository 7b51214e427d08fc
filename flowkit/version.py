"""flowkit's version, in one place: ``flowkit.__version__`` and the ``flowkit_version`` tag of
every run. Read here rather than from the installed package's metadata, whose import took ~45
ms of CPU of every run; pyproject.toml's ``version`` says the same (tests/test_public_api.py)."""

VERSION = "0.2.0"
