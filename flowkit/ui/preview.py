"""An artifact's value as the UI previews it (the ``preview`` of docs/ui.md): a DataFrame or
Series as a table, a numpy array with its shape, dtype and stats, an image, else the value's
repr; and an image's bytes for the raw endpoint.

pandas, numpy, PIL and matplotlib are never imported here: a value of theirs was made by
unpickling, which loaded its module, so it is found in ``sys.modules``.
"""

from __future__ import annotations

import io
import math
import struct
import sys
from collections.abc import Callable
from typing import Any

#: The most a preview loads (serialized size); a larger value is previewed by its snippet.
LOAD_LIMIT = 64 << 20
#: A table shows this many rows and columns at most.
ROWS, COLUMNS = 100, 50
#: A value's repr is cut here.
TEXT_CHARS = 10_000
#: A table cell's text is cut here.
CELL_CHARS = 1_000

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def too_large() -> dict[str, Any]:
    return {"kind": "too_large", "limit": LOAD_LIMIT}


def load_error(exc: Exception) -> dict[str, Any]:
    """Why the value could not be loaded in the UI's process, and what to do."""
    if isinstance(exc, ModuleNotFoundError):
        message = (
            f"the value's class is defined in module '{exc.name}', which the UI's Python "
            f"cannot import ({exc}); load it with the snippet where '{exc.name}' is installed"
        )
    elif isinstance(exc, ImportError | AttributeError):
        message = (
            f"the value's class cannot be found by the UI's Python ({type(exc).__name__}: "
            f"{exc}); load it with the snippet where the flow's code is importable"
        )
    else:
        message = f"the value could not be loaded ({type(exc).__name__}: {exc})"
    return {"kind": "error", "message": message}


def preview(value: Any, raw_url: str) -> dict[str, Any]:
    """The preview of a loaded value; ``raw_url`` is where an image's bytes are served."""
    pandas = made_by(value, "pandas")
    if pandas is not None and isinstance(value, pandas.Series):
        value = value.to_frame(name=value.name if value.name is not None else "value")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return _table(value)
    numpy = made_by(value, "numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return _array(numpy, value)
    image = image_size(value)
    if image is not None:
        kind, width, height = image
        return {"kind": "image", "url": raw_url, "format": kind, "width": width, "height": height}
    text = _text(repr, value)
    cut = len(text) > TEXT_CHARS
    return {"kind": "value", "text": text[:TEXT_CHARS] if cut else text, "truncated": cut}


def made_by(value: Any, package: str) -> Any:
    """``package``'s module when one of the value's classes comes from it, else None. Asked
    of the value, not of ``sys.modules`` alone: another request's unpickling may be importing
    the package in another thread, and a half-imported module lacks the names used here,
    whereas a value of its classes exists only once its import has finished."""
    for kind in type(value).__mro__:
        if kind.__module__.partition(".")[0] == package:
            return sys.modules.get(package)
    return None


def _text(render: Callable[[Any], str], value: Any) -> str:
    try:
        return render(value)
    except Exception as exc:  # a broken __repr__ or __str__ is shown, not raised
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}: {exc}>"


def _table(frame: Any) -> dict[str, Any]:
    rows, columns = frame.shape
    head = frame.iloc[:ROWS, :COLUMNS]
    return {
        "kind": "table",
        "columns": [str(c) for c in head.columns],
        "dtypes": [str(d) for d in head.dtypes],
        "index": [cell(i) for i in head.index],
        "rows": [[cell(x) for x in row] for row in head.itertuples(index=False, name=None)],
        "shape": [rows, columns],
        "truncated": rows > ROWS or columns > COLUMNS,
    }


def cell(value: Any) -> Any:
    """A table cell as JSON: a number, a string, a bool or null (NaN, NaT, None)."""
    if value is None or isinstance(value, bool | str | int):
        return value[:CELL_CHARS] if isinstance(value, str) else value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    numpy = made_by(value, "numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        if value.dtype.kind in "mM":
            return None if numpy.isnat(value) else str(value)
        return cell(value.item())
    if hasattr(value, "isoformat"):  # datetime, date, pandas Timestamp (NaT is not itself)
        return None if value != value else value.isoformat()
    return _text(str, value)[:CELL_CHARS]


def _array(numpy: Any, array: Any) -> dict[str, Any]:
    with numpy.printoptions(threshold=200, edgeitems=3, linewidth=100):
        text = numpy.array2string(array)
    stats = None
    numeric = numpy.issubdtype(array.dtype, numpy.number) and array.dtype.kind != "c"
    if numeric and array.size:
        stats = {
            "min": _finite(numpy.nanmin(array)),
            "max": _finite(numpy.nanmax(array)),
            "mean": _finite(numpy.nanmean(array)),
        }
    return {
        "kind": "array",
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "text": text,
        "stats": stats,
    }


def _finite(number: Any) -> float | None:
    value = float(number)
    return value if math.isfinite(value) else None


def image_size(value: Any) -> tuple[str, int | None, int | None] | None:
    """``(format, width, height)`` of an image value (PNG or JPEG bytes, a PIL image, a
    matplotlib figure; both rendered as PNG); None for anything else."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value[: 64 << 10])
        if data.startswith(PNG_MAGIC):
            if len(data) >= 24 and data[12:16] == b"IHDR":
                width, height = struct.unpack(">II", data[16:24])
                return "png", width, height
            return "png", None, None
        if data.startswith(JPEG_MAGIC):
            return ("jpeg", *_jpeg_size(data))
        return None
    module = type(value).__module__ or ""
    if module.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size"):
        width, height = value.size
        return "png", int(width), int(height)
    if module.startswith("matplotlib.") and hasattr(value, "savefig"):
        width, height = value.get_size_inches() * value.get_dpi()
        return "png", round(width), round(height)
    return None


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height from a JPEG's frame header (an SOFn marker)."""
    at = 2
    while at + 9 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + length
    return None, None


def image_bytes(value: Any) -> tuple[bytes, str] | None:
    """The image's bytes and content type; None when the value is not an image."""
    found = image_size(value)
    if found is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), f"image/{found[0]}"
    out = io.BytesIO()
    if hasattr(value, "savefig"):
        value.savefig(out, format="png")
    else:
        value.save(out, format="PNG")
    return out.getvalue(), "image/png"
