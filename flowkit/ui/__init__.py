"""``flowkit ui``: a read-only web UI over one store, and the JSON API its pages use
(docs/ui.md). Needs the ``ui`` extra (starlette, uvicorn); nothing here is imported by
``import flowkit``."""
