"""How the views word a duration: at a glance, precise where it matters."""

from flowkit.client.durations import format_duration


def test_durations_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (0.421, 12.34, 245, 7380)] == [
        "0.42s",
        "12.3s",
        "4m05s",
        "2h03m",
    ]
