"""Lane packing and stragglers of the run timeline, on synthetic intervals."""

from __future__ import annotations

from flowkit.ui.timeline import pack_lanes, stragglers


def overlaps(
    intervals: list[tuple[float, float | None]], lanes: list[int]
) -> list[tuple[int, int]]:
    found = []
    for i, (s1, e1) in enumerate(intervals):
        for j, (s2, e2) in enumerate(intervals[:i]):
            if lanes[i] != lanes[j]:
                continue
            end1 = float("inf") if e1 is None else e1
            end2 = float("inf") if e2 is None else e2
            if s1 < end2 and s2 < end1:
                found.append((j, i))
    return found


def test_overlapping_intervals_get_separate_lanes_and_free_lanes_are_reused() -> None:
    intervals: list[tuple[float, float | None]] = [
        (0.0, 10.0),  # lane 0
        (1.0, 3.0),  # lane 1
        (2.0, 4.0),  # lane 2: 0 and 1 are busy
        (3.5, 5.0),  # lane 1 is free again (freed at 3.0, the earliest)
        (10.0, 12.0),  # lane 1 freed first (at 5.0); lane 0 frees exactly at its start
        (4.5, 6.0),  # lane 2 (freed at 4.0)
    ]
    lanes, count = pack_lanes(intervals)
    assert lanes == [0, 1, 2, 1, 1, 2]
    assert count == 3
    assert overlaps(intervals, lanes) == []


def test_lanes_follow_start_order_whatever_the_input_order() -> None:
    intervals: list[tuple[float, float | None]] = [(5.0, 6.0), (0.0, 1.0), (0.5, 5.0)]
    lanes, count = pack_lanes(intervals)
    assert lanes == [0, 0, 1]  # (0,1) lane 0; (0.5,5) lane 1; (5,6) reuses lane 0, freed first
    assert count == 2


def test_a_running_attempt_holds_its_lane_to_the_end() -> None:
    intervals: list[tuple[float, float | None]] = [(0.0, None), (1.0, 2.0), (3.0, 4.0)]
    lanes, count = pack_lanes(intervals)
    assert lanes == [0, 1, 1]
    assert count == 2
    assert overlaps(intervals, lanes) == []


def test_as_many_lanes_as_overlap_at_the_busiest_moment() -> None:
    intervals: list[tuple[float, float | None]] = [
        (float(i % 7), float(i % 7) + 2.5) for i in range(40)
    ]
    lanes, count = pack_lanes(intervals)
    busiest = max(sum(1 for s, e in intervals if s <= t < (e or 0)) for t in range(10))
    assert count == busiest
    assert overlaps(intervals, lanes) == []


def test_no_intervals_no_lanes() -> None:
    assert pack_lanes([]) == ([], 0)


def test_a_straggler_is_slower_than_twice_the_median_and_in_the_slowest_5_percent() -> None:
    durations: list[float | None] = [1.0] * 37 + [2.5, 3.0, 9.0]
    marks = stragglers(durations, tasks=40)
    # 5 % of 40 successful attempts is 2: 9.0 and 3.0; 2.5 is over twice the median but
    # not among the slowest 2
    assert [d for d, m in zip(durations, marks, strict=True) if m] == [3.0, 9.0]


def test_the_slowest_is_no_straggler_when_not_twice_the_median() -> None:
    assert stragglers([1.0, 1.1, 1.2, 1.3, 1.9], tasks=5) == [False] * 5


def test_a_step_with_fewer_than_5_tasks_has_no_straggler() -> None:
    assert stragglers([1.0, 1.0, 1.0, 50.0], tasks=4) == [False] * 4
    assert stragglers([1.0, 1.0, 1.0, 1.0, 50.0], tasks=5) == [False] * 4 + [True]


def test_attempts_that_did_not_succeed_are_never_stragglers() -> None:
    marks = stragglers([1.0, None, 1.0, 1.0, 1.0, 1.0, 40.0], tasks=6)
    assert marks == [False] * 6 + [True]


def test_tiny_tasks_need_a_second_more_than_the_median_to_straggle() -> None:
    # 10 ms tasks: scheduling noise makes some take 25 ms, twice the median and in the
    # slowest 5 %, yet nobody waits on them; 1.5 s does stand out
    durations: list[float | None] = [0.01] * 95 + [0.025] * 4 + [1.5]
    marks = stragglers(durations, tasks=100)
    assert [d for d, m in zip(durations, marks, strict=True) if m] == [1.5]
