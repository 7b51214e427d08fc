"""How every view words a duration (the terminal, the notebook widget, a flow's runs)."""

from __future__ import annotations


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
