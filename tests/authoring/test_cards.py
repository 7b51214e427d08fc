"""Card components render escaped HTML; ``current.card`` resolves cards as Metaflow does;
``@card`` checks its arguments and may be applied several times."""

from __future__ import annotations

import io
import textwrap
from typing import Any

import pytest

from flowkit import current
from flowkit.authoring.card_collector import CardCollector, CardSlot, collecting
from flowkit.authoring.card_markdown import markdown_html
from flowkit.authoring.cards import (
    Artifact,
    CardComponent,
    Error,
    Image,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
    fragment,
    image_type,
)
from flowkit.authoring.current import TaskContext, bound
from flowkit.authoring.decorators import card, decorators_of, retry, step
from flowkit.errors import NotInTaskError
from tests.conftest import require

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452")
EVIL = "<img src=x onerror=alert(1)>"


def test_markdown_formats_and_escapes() -> None:
    html = Markdown(
        """
        # Title <b>
        Some **bold**, *it* and `a<b>`; [site](https://x.org/?a=1&b=2), [js](javascript:x)

        - one
        - two
        1. first

        ```
        <script>x</script>
        ```
        """
    ).render()
    assert "<h1>Title &lt;b&gt;</h1>" in html  # dedented: the heading is a heading
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<code>a&lt;b&gt;</code>" in html
    assert '<a href="https://x.org/?a=1&amp;b=2">site</a>' in html
    assert "javascript" not in html and ", js</p>" in html  # the label stays, the link goes
    assert "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>" in html.replace("\n", "")
    assert "<pre><code>&lt;script&gt;x&lt;/script&gt;</code></pre>" in html
    assert markdown_html("> quoted\n\n---") == "<blockquote>quoted</blockquote>\n<hr>"


def test_table_cells_are_text_numbers_or_components() -> None:
    html = Table([[EVIL, 1.5, Markdown("**m**")]], headers=["a<", "b", "c"]).render()
    assert "<th>a&lt;</th>" in html and "<td>1.5</td>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and EVIL not in html
    assert "<strong>m</strong>" in html
    # data that is not a list of lists, or headers that are not a list, are left out
    assert "<tbody></tbody>" in Table("not rows", headers="nope").render()  # type: ignore[arg-type]
    assert "<thead>" not in Table("not rows", headers="nope").render()  # type: ignore[arg-type]


def test_table_from_dataframe() -> None:
    unsupported = Table.from_dataframe([1, 2]).render()
    assert "Object type builtins.list not supported" in unsupported
    pd = require("pandas")
    frame = pd.DataFrame({"x": range(8), "y<": ["a"] * 8})
    html = Table.from_dataframe(frame).render()
    assert "<th></th><th>x</th><th>y&lt;</th>" in html
    assert html.count("<tr>") == 6  # the header and the first 5 rows
    assert Table.from_dataframe(frame, truncate=False).render().count("<tr>") == 9


class FakeFigure:
    """What Image.from_matplotlib uses of a figure: savefig into a file object."""

    def savefig(self, buffer: io.BytesIO, **options: Any) -> None:
        assert options["format"] == "png"
        buffer.write(PNG)


class FakeAxes:
    def get_figure(self) -> FakeFigure:
        return FakeFigure()


class FakePILImage:
    """What Image.from_pil_image uses of a PIL image: save into a file object."""

    def save(self, buffer: io.BytesIO, format: str) -> None:
        assert format == "PNG"
        buffer.write(PNG)


def test_images_are_embedded_as_data_uris() -> None:
    assert 'src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="' in Image(PNG, "px").render()
    assert "<figcaption>px</figcaption>" in Image(PNG, "px").render()
    assert image_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == "svg+xml"
    assert image_type(b"\xff\xd8\xff\xe0") == "jpeg" and image_type(b"GIF89a") == "gif"
    assert "Bytes not parsable as image" in Image(b"not an image").render()
    assert "`src` cannot be `None`" in Image().render()
    assert "invalid base64 string" in Image("https://example.com/a.png").render()
    assert 'src="data:image/gif;base64,R0lG"' in Image("data:image/gif;base64,R0lG").render()
    assert "data:image/png" in Image.from_pil_image(FakePILImage(), "pil").render()
    assert "data:image/png" in Image.from_matplotlib(FakeFigure()).render()
    assert "data:image/png" in Image.from_matplotlib(FakeAxes(), label="axes").render()
    updated = Image(b"junk")
    updated.update(PNG, label="now")
    assert (
        "data:image/png" in updated.render() and "<figcaption>now</figcaption>" in updated.render()
    )


def test_the_other_components() -> None:
    assert (
        "<b>name</b><pre>{&#x27;k&#x27;: [1, 2]}</pre>" in Artifact({"k": [1, 2]}, "name").render()
    )
    long = Artifact(list(range(100))).render()
    assert "..." in long and "99" not in long  # compressed with reprlib
    assert "99" in Artifact(list(range(100)), compressed=False).render()
    err = Error(ValueError(EVIL), "it broke").render()
    assert "<b>it broke</b>" in err and "ValueError(&#x27;&lt;img" in err
    bar = ProgressBar(max=4, label="epochs", unit="ep")
    bar.update(3, metadata="fast")
    assert "<progress max='4.0' value='3.0'></progress> 3/4 ep <i>fast</i>" in bar.render()
    box = ValueBox(title="AUC", value=0.9, theme="success")
    box.update(value=0.95)
    assert 'data-theme="success"' in box.render() and ">0.95<" in box.render()
    chart = VegaChart({"title": EVIL, "mark": "bar"})
    chart.update({"title": "bars", "mark": "bar"})
    assert "<b>bars</b>" in chart.render() and "&quot;mark&quot;: &quot;bar&quot;" in chart.render()

    def shown() -> int:
        return 1 < 2

    assert "def shown() -&gt; int:" in PythonCode(shown).render()
    assert "<code>x = 1</code>" in PythonCode(code_string="x = 1").render()
    assert "requires a `code_func` or `code_string`" in PythonCode().render()


class Raising(CardComponent):
    def render(self) -> str:
        raise RuntimeError("component bug")


class Texty(CardComponent):
    def __init__(self, value: Any) -> None:
        self.value = value

    def render(self) -> Any:
        return self.value


def test_a_component_of_ones_own_is_escaped_and_its_errors_shown() -> None:
    assert "Raising failed to render" in fragment(Raising()) and "component bug" in fragment(
        Raising()
    )
    assert (
        fragment(Texty(EVIL))
        == f"<div class='fk-text'>{'&lt;img src=x onerror=alert(1)&gt;'}</div>"
    )
    assert "&quot;a&quot;: 1" in fragment(Texty({"a": 1}))


def _collector(*slots: CardSlot) -> tuple[CardCollector, list[str]]:
    said: list[str] = []
    return CardCollector(slots, step="train", warn=said.append), said


def test_append_goes_to_the_one_editable_card() -> None:
    cards, said = _collector(CardSlot("default"))
    cards.append(Markdown("a"))
    cards.extend([Markdown("b")])
    assert [c._text for c in cards.cards[0].components] == ["a", "b"]  # type: ignore[attr-defined]
    cards.clear()
    assert len(cards.cards[0].components) == 0 and said == []


def test_with_several_cards_the_one_without_an_id_is_the_default() -> None:
    cards, said = _collector(CardSlot("blank", "a"), CardSlot("default"), CardSlot("blank", "b"))
    cards.append(Markdown("x"))
    cards["a"].append(Markdown("y"))
    assert [len(c.components) for c in cards.cards] == [1, 1, 0]
    cards["b"] = [Markdown("z"), Markdown("w")]
    assert len(cards.cards[2].components) == 2 and said == []
    assert cards.get(type="blank") == [cards.cards[0].components, cards.cards[2].components]


def test_what_cannot_be_resolved_warns_once_and_is_dropped() -> None:
    cards, said = _collector(CardSlot("default"), CardSlot("blank"))
    cards.append(Markdown("x"))
    cards.append(Markdown("x"))
    assert len(said) == 1 and "cannot disambiguate between multiple @card" in said[0]
    # Metaflow shows the warning in the editable cards too
    assert all("cannot disambiguate" in fragment(next(iter(c.components))) for c in cards.cards)
    assert cards["nope"] == [] and "`current.card['nope']` is not present" in said[1]
    cards["nope"] = [Markdown("x")]
    assert "`current.card['nope']` is not present" in said[2]
    nothing, said = _collector()
    nothing.append(Markdown("x"))
    assert said == [
        "Step 'train' has no @card decorator. Component will not be appended and "
        "`current.card.append` will not work for any call during this runtime execution. "
        "Add @card to the step to make a card of its components."
    ]
    fixed, said = _collector(CardSlot("default"))
    fixed.append("just text")
    assert "is not a valid card component" in said[0] and len(fixed.cards[0].components) == 0


def test_ids_must_be_unique_and_well_formed() -> None:
    cards, said = _collector(
        CardSlot("blank", "x"), CardSlot("blank", "x"), CardSlot("blank", "a-b")
    )
    assert "doesn't match REGEX pattern" in said[0] and "duplicate ids : x" in said[1]
    assert cards["x"] == [] and cards["a-b"] == []


def test_current_card_outside_and_inside_a_task() -> None:
    with pytest.raises(NotInTaskError):
        current.card  # noqa: B018
    cards, _ = _collector(CardSlot("default"))
    with bound(TaskContext("F", "1", "train", "2")):
        with collecting(cards):
            assert current.card is cards
        unbound = current.card  # a task whose layer bound none: a collector with no cards
        assert unbound is not cards and unbound.cards == []


def test_card_may_be_applied_several_times_and_checks_its_arguments() -> None:
    @card(id="a")
    @card(type="blank", timeout=0, options={"f": object()})
    @step
    def start(self: Any) -> None:
        pass

    decorators, problems = decorators_of(start)
    assert [(d.args["type"], d.args["id"]) for d in decorators] == [
        ("blank", None),
        ("default", "a"),
    ]
    [problem] = problems  # lint reports it with the step's file and line
    assert problem.startswith("@card(timeout=0) is invalid: timeout must be seconds > 0; ")
    assert problem.endswith("is invalid: options must be a dict of plain values")

    @retry
    @retry
    @step
    def twice(self: Any) -> None:
        pass

    assert decorators_of(twice)[1] == ("@retry is applied twice",)
    assert textwrap.dedent(card.__doc__ or "").startswith("Make an HTML report")
