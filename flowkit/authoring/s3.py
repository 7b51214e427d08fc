"""``flowkit.S3``: Metaflow's S3 data tool, provided by the flowkit-s3 extension (through
its ``flowkit.datatools`` entry point ``s3``); without it, making one says what to install."""

from __future__ import annotations

from typing import Any

#: The entry-point group data tools register in.
DATATOOLS = "flowkit.datatools"


class S3:
    """``with S3(run=self) as s3: s3.put(key, obj); s3.get(key).text`` as in Metaflow
    (``pip install flowkit-s3``); see ``flowkit_s3.datatools.S3`` for every method."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from flowkit.plugins import load_plugin

        return load_plugin(DATATOOLS, "s3", kind="data tool")(*args, **kwargs)
