"""Card components, as Metaflow's ``metaflow.cards`` names them: ``Markdown``, ``Table``,
``Image``, ``Artifact``, ``Error``, ``ProgressBar``, ``ValueBox``, ``VegaChart`` and
``PythonCode``.

A component renders itself to an HTML fragment with every value escaped; it loads no script,
style sheet or image from anywhere (images are embedded as data URIs). ``current.card``
collects them (:mod:`flowkit.authoring.card_collector`) and the task layer puts them in a
page when the task ends (:mod:`flowkit.task.cards`).
"""

from __future__ import annotations

import io
import json
import reprlib
from collections.abc import Callable
from typing import Any

# base64, inspect, pprint, textwrap and the Markdown renderer (its patterns) are imported
# where a component uses them: every task makes its card collector (this module's classes),
# few put such a component in a card, and together (inspect with ast and dis, pprint with
# dataclasses) they were ~10 ms of a warm worker's start.


def escape(text: str) -> str:
    """:func:`html.escape`, imported when a card renders: :mod:`html` brings its table of
    entities (~2.5 ms of every warm worker's start), and most tasks render no card."""
    from html import escape as escape_html

    return escape_html(text)


class Html(str):
    """Markup a component built from escaped parts: put in a card as it is."""


class CardComponent:
    """The base of every component ``current.card.append`` takes (Metaflow's
    ``MetaflowCardComponent``). A subclass's :meth:`render` returns :class:`Html`, or any
    other text (shown escaped, as text) or a dict or list (shown as JSON)."""

    REALTIME_UPDATABLE = False
    component_id: str | None = None

    def render(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no render()")

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Change what the component shows; cards render once, when the task ends."""


#: Metaflow's name for the base class.
MetaflowCardComponent = CardComponent


def fragment(component: Any) -> Html:
    """The HTML of anything put in a card: a component's own markup (an error box in its
    place if it fails to render), any other value as escaped text."""
    if not isinstance(component, CardComponent):
        return Html(escape(str(component)))
    try:
        rendered = component.render()
    except Exception as exc:  # a component's bug shows in its place; the card still renders
        return error_box(f"{type(component).__name__} failed to render", repr(exc))
    if isinstance(rendered, Html):
        return rendered
    if isinstance(rendered, dict | list):
        text = json.dumps(rendered, indent=2, default=repr)
        return Html(f"<pre class='fk-json'>{escape(text)}</pre>")
    return Html(f"<div class='fk-text'>{escape(str(rendered))}</div>")


def error_box(title: str, detail: str = "") -> Html:
    body = f"<pre>{escape(detail)}</pre>" if detail else ""
    return Html(f"<div class='fk-error'><b>{escape(title)}</b>{body}</div>")


class Markdown(CardComponent):
    """A block of Markdown text; indentation common to all lines is removed."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: str | None = None) -> None:
        self._text = _dedent(text) if text is not None else None

    def update(self, text: str | None = None) -> None:
        self._text = _dedent(text) if text is not None else None

    def render(self) -> Html:
        from flowkit.authoring.card_markdown import markdown_html

        return Html(f"<div class='fk-markdown'>{markdown_html(self._text or '')}</div>")


class Artifact(CardComponent):
    """Any Python object, pretty-printed (shortened with ``reprlib`` when ``compressed``)."""

    REALTIME_UPDATABLE = True

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self._artifact, self._name, self._compressed = artifact, name, compressed

    def update(self, artifact: Any) -> None:
        self._artifact = artifact

    def render(self) -> Html:
        if self._compressed:
            text = _SHORT.repr(self._artifact)
        else:
            import pprint

            text = pprint.pformat(self._artifact)
        name = f"<b>{escape(str(self._name))}</b>" if self._name is not None else ""
        return Html(f"<div class='fk-artifact'>{name}<pre>{escape(text)}</pre></div>")


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 200, 200, 20, 20


class Table(CardComponent):
    """Rows of cells; a cell is text, a number or another component. ``headers`` name the
    columns. A ``data`` that is not a list of lists, or ``headers`` that are not a list, are
    left out, as Metaflow does."""

    REALTIME_UPDATABLE = True

    def __init__(
        self,
        data: list[list[Any]] | None = None,
        headers: list[str] | None = None,
        disable_updates: bool = False,
    ) -> None:
        data, headers = data or [[]], headers or []
        rows_ok = isinstance(data, list) and bool(data) and isinstance(data[0], list)
        self._data: list[list[Any]] = data if rows_ok else [[]]
        self._headers: list[Any] = headers if isinstance(headers, list) else []
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    @classmethod
    def from_dataframe(cls, dataframe: Any = None, truncate: bool = True) -> Table:
        """A table of a pandas DataFrame: its index, then its columns; its first 5 rows
        when ``truncate``."""
        kind = f"{type(dataframe).__module__}.{type(dataframe).__qualname__}"
        if not kind.startswith("pandas.") or not hasattr(dataframe, "itertuples"):
            return cls(headers=[f"Object type {kind} not supported"], disable_updates=True)
        shown = dataframe.head() if truncate else dataframe
        rows = [list(row) for row in shown.itertuples(index=True, name=None)]
        return cls(rows, ["", *map(str, dataframe.columns)], disable_updates=True)

    def render(self) -> Html:
        head = "".join(f"<th>{escape(str(h))}</th>" for h in self._headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{fragment(cell)}</td>" for cell in row) + "</tr>"
            for row in self._data
            if row
        )
        header = f"<thead><tr>{head}</tr></thead>" if head else ""
        return Html(f"<table class='fk-table'>{header}<tbody>{body}</tbody></table>")


#: The image formats an ``Image`` recognises by their first bytes.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def image_type(data: bytes) -> str | None:
    """The MIME subtype of image bytes (``png``, ``svg+xml``, ...), None if not an image."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:256].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:1024]):
        return "svg+xml"
    return None


def data_uri(data: bytes) -> str | None:
    """Image bytes as a ``data:`` URI, None when they are no image."""
    kind = image_type(data)
    if kind is None:
        return None
    import base64

    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


class Image(CardComponent):
    """An image from PNG/JPEG/GIF/WebP/SVG bytes (or a ``data:image/`` URI), embedded in the
    card. Build one from a PIL image or a Matplotlib figure with the class methods."""

    REALTIME_UPDATABLE = True

    def __init__(self, src: Any = None, label: str | None = None, disable_updates: bool = True):
        self._set(src, label)
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    def _set(self, src: Any, label: str | None) -> None:
        self._label, self._src, self._problem = label, None, ""
        if src is None:
            self._problem = "`Image` Component `src` cannot be `None`"
        elif isinstance(src, str):
            if src.startswith("data:image/"):
                self._src = src
            else:
                self._problem = "String is invalid base64 string: give bytes or a data:image/ URI"
        elif isinstance(src, bytes | bytearray | memoryview):
            self._src = data_uri(bytes(src))
            if self._src is None:
                self._problem = "Bytes not parsable as image"
        else:
            self._problem = (
                f"The `Image` `src` argument should be of type `bytes`, not {type(src).__name__}"
            )

    def update(self, image: Any, label: str | None = None) -> None:
        self._set(image, label if label is not None else self._label)

    @classmethod
    def from_pil_image(
        cls, pilimage: Any, label: str | None = None, disable_updates: bool = True
    ) -> Image:
        """An image of a ``PIL.Image.Image`` (stored as PNG)."""
        buffer = io.BytesIO()
        pilimage.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label, disable_updates)

    @classmethod
    def from_matplotlib(
        cls, plot: Any, label: str | None = None, disable_updates: bool = True
    ) -> Image:
        """An image of a Matplotlib figure, or of the figure an axes (``df.plot()``) is in."""
        figure = plot.get_figure() if hasattr(plot, "get_figure") else plot
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return cls(buffer.getvalue(), label, disable_updates)

    def render(self) -> Html:
        if self._src is None:
            return error_box(f"[IMAGE_RENDER FAIL]: {self._problem}")
        caption = f"<figcaption>{escape(self._label)}</figcaption>" if self._label else ""
        alt = escape(self._label or "image")
        return Html(
            f'<figure class=\'fk-image\'><img src="{escape(self._src)}" alt="{alt}">{caption}</figure>'
        )


class Error(CardComponent):
    """An exception shown in the card, under ``title``."""

    def __init__(self, exception: BaseException, title: str | None = None) -> None:
        self._exception, self._title = exception, title

    def render(self) -> Html:
        return error_box(str(self._title or "Error"), repr(self._exception))


class ProgressBar(CardComponent):
    """How far something got: ``value`` of ``max`` (in ``unit``), with a ``label`` and
    extra text (``metadata``)."""

    REALTIME_UPDATABLE = True

    def __init__(
        self,
        max: int = 100,
        label: str | None = None,
        value: int = 0,
        unit: str | None = None,
        metadata: str | None = None,
    ) -> None:
        self._max, self._label, self._value, self._unit, self._metadata = (
            max,
            label,
            value,
            unit,
            metadata,
        )

    def update(self, new_value: int, metadata: str | None = None) -> None:
        self._value = new_value
        if metadata is not None:
            self._metadata = metadata

    def render(self) -> Html:
        label = f"<b>{escape(self._label)}</b> " if self._label else ""
        unit = f" {escape(self._unit)}" if self._unit else ""
        details = f" <i>{escape(self._metadata)}</i>" if self._metadata else ""
        bar = f"<progress max='{float(self._max)}' value='{float(self._value)}'></progress>"
        return Html(
            f"<div class='fk-progress'>{label}{bar} {escape(str(self._value))}/{escape(str(self._max))}{unit}{details}</div>"
        )


class ValueBox(CardComponent):
    """A key number with a title, a subtitle and a change note; ``theme`` is one of default,
    success, warning, danger."""

    REALTIME_UPDATABLE = True

    def __init__(
        self,
        title: str | None = None,
        value: str | int | float = "",
        subtitle: str | None = None,
        theme: str | None = None,
        change_indicator: str | None = None,
    ) -> None:
        self._fields: dict[str, Any] = {}
        self.update(title, value, subtitle, theme, change_indicator)

    def update(
        self,
        title: str | None = None,
        value: str | int | float | None = None,
        subtitle: str | None = None,
        theme: str | None = None,
        change_indicator: str | None = None,
    ) -> None:
        given = {
            "title": title,
            "value": value,
            "subtitle": subtitle,
            "theme": theme,
            "change": change_indicator,
        }
        self._fields.update({k: v for k, v in given.items() if v is not None})

    def render(self) -> Html:
        f = self._fields
        theme = str(f.get("theme", "default"))
        parts = [f"<div class='fk-title'>{escape(str(f['title']))}</div>" if "title" in f else ""]
        parts.append(f"<div class='fk-value'>{escape(str(f.get('value', '')))}</div>")
        for key in ("subtitle", "change"):
            if key in f:
                parts.append(f"<div class='fk-{key}'>{escape(str(f[key]))}</div>")
        return Html(
            f"<div class='fk-valuebox' data-theme=\"{escape(theme)}\">{''.join(parts)}</div>"
        )


class VegaChart(CardComponent):
    """A Vega-Lite chart. flowkit's cards load no scripts, so the chart shows as its JSON
    spec (open it in any Vega editor); ``from_altair_chart`` takes an Altair chart."""

    REALTIME_UPDATABLE = True

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        self._spec, self._show_controls = spec, show_controls

    def update(self, spec: dict[str, Any] | None = None) -> None:
        if spec is not None:
            self._spec = spec

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        return cls(altair_chart.to_dict())

    def render(self) -> Html:
        title = self._spec.get("title") if isinstance(self._spec, dict) else None
        text = json.dumps(self._spec, indent=2, default=repr)
        heading = f"<b>{escape(str(title))}</b> " if title else ""
        return Html(
            f"<div class='fk-vega'>{heading}<i>Vega-Lite chart, shown as its spec (cards run "
            f"no scripts)</i><details><summary>spec</summary><pre>{escape(text)}</pre></details></div>"
        )


class PythonCode(CardComponent):
    """Python source: a function's (``code_func``) or a string's (``code_string``)."""

    def __init__(
        self, code_func: Callable[..., Any] | None = None, code_string: str | None = None
    ) -> None:
        if code_func is not None:
            import inspect

            self._code: str | None = inspect.getsource(code_func)
        else:
            self._code = code_string

    def render(self) -> Html:
        if self._code is None:
            return error_box(
                "`PythonCode` component requires a `code_func` or `code_string` argument."
            )
        return Html(f"<pre class='fk-code'><code>{escape(_dedent(self._code))}</code></pre>")


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)
