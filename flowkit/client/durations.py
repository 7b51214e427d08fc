"""How long things took, as every view words it (the terminal, the notebook widget, a flow's
runs) and draws it (``flowkit show FLOW``'s trends). The durations of a flow's recent runs are
read by :mod:`flowkit.store.durations`."""

from __future__ import annotations

from collections.abc import Sequence

#: Eight heights, lowest to highest, for :func:`sparkline`.
_BARS = "▁▂▃▄▅▆▇█"


def format_duration(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``: short, and precise where it matters."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


#: A run in a trend where the thing drawn did not run (see :func:`sparkline`).
GAP = "·"


def sparkline(values: Sequence[float | None]) -> str:
    """One bar per value, oldest first, scaled from the smallest to the largest (all the
    same height when they are all alike); :data:`GAP` for a None, so that trends drawn over
    the same runs line up whatever each one lacks."""
    seen = [v for v in values if v is not None]
    if not seen:
        return GAP * len(values)
    low, high = min(seen), max(seen)
    span = high - low
    top = len(_BARS) - 1
    return "".join(
        GAP if v is None else _BARS[round((v - low) / span * top) if span > 0 else 0]
        for v in values
    )
