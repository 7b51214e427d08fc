"""flowkit.ui.preview: what each kind of value previews as, JSON-safe, and which modules it
never imports."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowkit.ui import preview
from tests.flows.ui import tiny_png

RAW = "/api/runs/F/r/s/t/artifacts/x/raw"


def as_json(value: Any) -> Any:
    """What the answer carries: starlette refuses NaN and infinities, so this does too."""
    return json.loads(json.dumps(preview.preview(value, RAW), allow_nan=False))


def test_a_dataframe_is_a_table_of_json_cells() -> None:
    frame = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, float("nan"), float("inf")],
            "when": [pd.Timestamp("2026-11-30T01:02:03"), pd.NaT, pd.Timestamp("2026-01-01")],
            "thing": [object, None, {"a": 1}],
            "flag": [True, False, True],
        },
        index=["a", "b", "c"],
    )

    shown = as_json(frame)

    assert shown["kind"] == "table"
    assert shown["columns"] == ["n", "x", "when", "thing", "flag"]
    assert shown["dtypes"][:2] == ["int64", "float64"]
    assert shown["dtypes"][2].startswith("datetime64[")
    assert shown["index"] == ["a", "b", "c"]
    assert shown["rows"] == [
        [1, 0.5, "2026-11-30T01:02:03", "<class 'object'>", True],
        [2, None, None, None, False],
        [3, "inf", "2026-01-01T00:00:00", "{'a': 1}", True],
    ]
    assert shown["shape"] == [3, 5] and shown["truncated"] is False


def test_a_large_dataframe_shows_its_first_rows_and_columns() -> None:
    frame = pd.DataFrame(np.arange(150 * 60).reshape(150, 60))

    shown = as_json(frame)

    assert shown["shape"] == [150, 60] and shown["truncated"] is True
    assert len(shown["rows"]) == preview.ROWS == 100
    assert len(shown["columns"]) == len(shown["rows"][0]) == preview.COLUMNS == 50
    assert shown["rows"][99][49] == 99 * 60 + 49


def test_a_series_is_a_one_column_table() -> None:
    shown = as_json(pd.Series([1.5, 2.5], name="loss"))
    assert (shown["kind"], shown["columns"], shown["rows"]) == ("table", ["loss"], [[1.5], [2.5]])
    assert as_json(pd.Series(["a"]))["columns"] == ["value"]


def test_an_array_has_shape_dtype_summarized_text_and_stats() -> None:
    big = np.arange(1_000_000, dtype="float64").reshape(1000, 1000)
    big[0, 0] = np.nan

    shown = as_json(big)

    assert shown["kind"] == "array"
    assert shown["shape"] == [1000, 1000] and shown["dtype"] == "float64"
    assert "..." in shown["text"] and len(shown["text"]) < 2000
    assert shown["stats"] == {"min": 1.0, "max": 999999.0, "mean": pytest.approx(500000.0, 1e-5)}
    small = as_json(np.array([1, 2, 3], dtype="int32"))
    assert small["text"] == "[1 2 3]"
    assert small["stats"] == {"min": 1.0, "max": 3.0, "mean": 2.0}


def test_arrays_without_numbers_have_no_stats() -> None:
    assert as_json(np.array(["a", "b"]))["stats"] is None
    assert as_json(np.array([True, False]))["stats"] is None
    assert as_json(np.zeros((0, 3)))["stats"] is None
    assert as_json(np.array([np.inf, 1.0]))["stats"]["max"] is None


def test_png_and_jpeg_bytes_are_images_with_their_size() -> None:
    assert as_json(tiny_png(48, 24)) == {
        "kind": "image",
        "url": RAW,
        "format": "png",
        "width": 48,
        "height": 24,
    }
    frame_header = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 480, 640, 3) + b"\x01\x11\x00"
    jpeg = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"JF" + frame_header + b"\xff\xd9"
    shown = as_json(jpeg)
    assert (shown["format"], shown["width"], shown["height"]) == ("jpeg", 640, 480)
    assert preview.image_bytes(jpeg) == (jpeg, "image/jpeg")
    assert as_json(b"not an image")["kind"] == "value"
    assert preview.image_bytes(b"not an image") is None


class FakePilImage:
    """Looks like a PIL image to duck typing (PIL itself is not installed here)."""

    size = (30, 20)

    def save(self, out: Any, format: str) -> None:
        out.write(b"rendered as " + format.encode())


FakePilImage.__module__ = "PIL.Image"


class FakeFigure:
    """Looks like a matplotlib figure."""

    def get_size_inches(self) -> Any:
        return np.array([4.0, 3.0])

    def get_dpi(self) -> float:
        return 100.0

    def savefig(self, out: Any, format: str) -> None:
        out.write(b"figure as " + format.encode())


FakeFigure.__module__ = "matplotlib.figure"


def test_pil_images_and_matplotlib_figures_render_as_png() -> None:
    assert as_json(FakePilImage())["width"] == 30
    assert preview.image_bytes(FakePilImage()) == (b"rendered as PNG", "image/png")
    shown = as_json(FakeFigure())
    assert (shown["kind"], shown["format"], shown["width"], shown["height"]) == (
        "image",
        "png",
        400,
        300,
    )
    assert preview.image_bytes(FakeFigure()) == (b"figure as png", "image/png")


class Broken:
    def __repr__(self) -> str:
        raise ValueError("no repr today")


def test_other_values_are_their_repr_cut_at_10000_characters() -> None:
    assert as_json({"a": [1, 2]}) == {"kind": "value", "text": "{'a': [1, 2]}", "truncated": False}
    long = as_json("x" * 20_000)
    assert long["truncated"] is True and len(long["text"]) == preview.TEXT_CHARS
    assert as_json(Broken())["text"] == "<unprintable Broken: ValueError: no repr today>"


def test_a_load_error_names_the_module_the_ui_cannot_import() -> None:
    try:
        import flowkit_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    except ModuleNotFoundError as exc:
        shown = preview.load_error(exc)
    assert shown["kind"] == "error"
    assert "module 'flowkit_no_such_module'" in shown["message"]
    assert "snippet" in shown["message"]
    assert preview.too_large() == {"kind": "too_large", "limit": 64 * 1024 * 1024}


def test_previewing_plain_values_imports_neither_pandas_nor_numpy() -> None:
    code = (
        "import sys; from flowkit.ui import preview; "
        "preview.preview({'a': 1}, 'u'); preview.preview(b'\\x89PNG\\r\\n\\x1a\\n', 'u'); "
        "print(sorted(m for m in ('pandas', 'numpy', 'PIL', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_a_package_half_imported_by_another_request_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # another request's unpickling is importing pandas and numpy in another thread: their
    # modules are in sys.modules without their names yet; a plain value must not touch them
    import types

    monkeypatch.setitem(sys.modules, "pandas", types.ModuleType("pandas"))
    monkeypatch.setitem(sys.modules, "numpy", types.ModuleType("numpy"))
    assert as_json([1, 2]) == {"kind": "value", "text": "[1, 2]", "truncated": False}
    assert preview.cell(3) == 3
