"""A card's Markdown: emphasis is read in text and link labels, never in a link's address."""

from __future__ import annotations

from flowkit.authoring.card_markdown import markdown_html


def test_underscores_in_a_links_address_stay_as_written() -> None:
    assert markdown_html("[l](http://a_b_c.com/_x_y_)") == (
        '<p><a href="http://a_b_c.com/_x_y_">l</a></p>'
    )
    assert markdown_html("see [*the* docs](/a_b_/c*d*) and _this_ and __that__") == (
        '<p>see <a href="/a_b_/c*d*"><em>the</em> docs</a> and <em>this</em> and '
        "<strong>that</strong></p>"
    )
