"""What the daily pipeline's flows share: the day a run is for, synthetic data, a tiny model.

Plain Python, no numpy, so the example runs wherever flowkit does. The flows import it as a
project module: ``flowkit deploy`` snapshots it with each flow's code.
"""

from __future__ import annotations

import random
from datetime import date


def run_day() -> str:
    """The day the running run is for: its schedule slot's date in the schedule's time zone
    (``current.scheduled_at``: 02:00 Berlin on the 1st is the 1st, though 01:00 UTC), else
    today."""
    from flowkit import current

    slot = current.scheduled_at
    return (slot.date() if slot is not None else date.today()).isoformat()


def daily_rows(day: str, count: int = 200) -> list[tuple[float, float]]:
    """The day's (x, y) measurements: y = 3x + 1 plus noise, the same every time for a day."""
    rng = random.Random(day)
    return [
        (x, 3.0 * x + 1.0 + rng.gauss(0, 0.5)) for x in (rng.uniform(0, 10) for _ in range(count))
    ]


def fit(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least squares: the slope and intercept of the best line."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )
    return {"slope": slope, "intercept": mean_y - slope * mean_x}


def r2(model: dict[str, float], points: list[tuple[float, float]]) -> float:
    """The model's R^2 on ``points``."""
    mean_y = sum(y for _, y in points) / len(points)
    residual = sum((y - (model["slope"] * x + model["intercept"])) ** 2 for x, y in points)
    total = sum((y - mean_y) ** 2 for _, y in points)
    return 1.0 - residual / total
