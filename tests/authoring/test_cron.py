"""Cron expressions: what is accepted and how, and when they fire across time zones and the
days the clocks change (real dates: Europe/Berlin changes on 2026-03-29 and 2026-10-25,
America/New_York on 2026-03-08 and 2026-11-01)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flowkit.authoring.cron import CronSchedule, normalize_cron

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def fires(cron: str, zone: str | None, after: datetime, until: datetime) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M}" for t in CronSchedule(cron, zone).slots(after, until)]


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("  */15   9-17 * jan-MAR Mon-Fri ", "*/15 9-17 * 1-3 1-5"),
        ("0 0 * * 7", "0 0 * * 7"),  # Sunday, as crontab also writes it
        ("5/15 * * * *", "5-59/15 * * * *"),
        ("0 12 1,15 * SAT,SUN", "0 12 1,15 * 6,0"),
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        # Metaflow's (AWS) six fields: day-of-week 1-7 is SUN-SAT, '?' is any, year '*'
        ("0 0 ? * MON-FRI *", "0 0 * * 1-5"),
        ("0 0 ? * 2-6 *", "0 0 * * 1-5"),
        ("30 6 ? * 1,7 *", "30 6 * * 0,6"),
        ("0 * * * ? *", "0 * * * *"),  # Metaflow's hourly
        ("0 0 ? * SUN *", "0 0 * * 0"),  # Metaflow's weekly
        ("15 10 1 * ? *", "15 10 1 * *"),
    ],
)
def test_accepted_forms_normalize_to_five_fields(written: str, normalized: str) -> None:
    assert normalize_cron(written) == normalized


@pytest.mark.parametrize(
    ("written", "says"),
    [
        # six fields are never seconds: without '?' they are refused, not run every second
        ("0 0 2 * * *", "needs '?' in day-of-month or day-of-week"),
        ("* * * * * *", "a first field of seconds is not supported"),
        ("0 0 0 ? * * *", "has 7 fields"),
        ("0 0 ? * * 2027", "names the year '2027'"),
        ("0 0 L * ? *", "uses AWS's L, W or #"),
        ("0 0 ? * 6#3 *", "uses AWS's L, W or #"),
        ("0 0 ? * 0 *", "days are 1-7 (SUN=1 .. SAT=7)"),
        ("0 2 * *", "has 4 fields"),
        ("60 * * * *", "minute '60' is not in 0-59"),
        ("0 0 0 * *", "day-of-month '0' is not in 1-31"),
        ("0 0 * 13 *", "month '13' is not in 1-12 or JAN..DEC"),
        ("0 0 * * FUN", "day-of-week 'FUN' is not in 0-7 or SUN..SAT"),
        ("0 22-2 * * *", "write two ranges: '22-23,0-2'"),
        ("0 0 * * FRI-MON", "write two ranges: '5-6,0-1'"),
        ("*/0 * * * *", "steps by 0"),
        ("0 0 ? * * ", "'?' only in Metaflow's 6-field form"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6 *", "never fires"),
        ("@reboot", "unknown cron alias '@reboot'"),
    ],
)
def test_refused_forms_say_what_is_wrong(written: str, says: str) -> None:
    with pytest.raises(ValueError, match=r"cron|alias") as caught:
        normalize_cron(written)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "quartz", ["0 0 12 ? * MON-FRI", "0 30 2 * * ?", "0 0 2 ? * *", "*/10 * * * * ?", "0 0 * * * *"]
)
def test_six_fields_starting_with_seconds_are_never_accepted(quartz: str) -> None:
    # Quartz/Spring put '?' in their 4th or 6th field, AWS in its 3rd or 5th: a seconds-first
    # expression cannot pass as AWS's, so none is read with its fields shifted
    with pytest.raises(ValueError, match=r"has 6 fields|is not in"):
        normalize_cron(quartz)


def test_a_six_field_refusal_says_what_to_write_instead() -> None:
    with pytest.raises(ValueError) as caught:
        normalize_cron("0 0 2 * * *")
    assert "'0 2 ? * * *'" in str(caught.value) and "'0 2 * * *'" in str(caught.value)


def test_day_of_month_and_day_of_week_combine_as_in_crontab() -> None:
    # both restricted: either one (the 13th, and every Friday)
    either = fires("0 0 13 * 5", None, utc(2026, 2, 1), utc(2026, 2, 28))
    assert either == [f"2026-02-{d:02} 00:00" for d in (6, 13, 20, 27)]
    # one of them '*...': both (Fridays that are odd days of the month)
    both = fires("0 0 */2 * 5", None, utc(2026, 2, 1), utc(2026, 2, 28))
    assert both == ["2026-02-13 00:00", "2026-02-27 00:00"]


def test_next_after_is_strictly_after_and_in_utc() -> None:
    daily = CronSchedule("0 2 * * *")
    assert daily.next_after(utc(2026, 5, 1, 2, 0)) == utc(2026, 5, 2, 2, 0)
    assert daily.next_after(utc(2026, 5, 1, 1, 59, 59)) == utc(2026, 5, 1, 2, 0)
    tokyo = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=9)))  # 03:00 UTC
    assert daily.next_after(tokyo) == utc(2026, 5, 2, 2, 0)
    assert daily.next_after(tokyo).tzinfo is UTC


def test_a_zone_turns_wall_clock_times_into_utc() -> None:
    # 02:00 in Berlin is 01:00 UTC in winter and 00:00 UTC in summer
    at_two = CronSchedule("0 2 * * *", BERLIN)
    assert at_two.next_after(utc(2026, 1, 10)) == utc(2026, 1, 10, 1, 0)
    assert at_two.next_after(utc(2026, 7, 9, 23)) == utc(2026, 7, 10, 0, 0)


def test_a_time_that_does_not_exist_fires_once_when_the_gap_ends() -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 never comes
    got = fires("30 2 * * *", BERLIN, utc(2026, 3, 27), utc(2026, 3, 31))
    assert got == ["2026-03-27 01:30", "2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"]
    # several missing times, and 03:00 itself: one fire at 03:00 local
    got = fires("*/15 2,3 * * *", BERLIN, utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 2, 0))
    assert got == ["2026-03-29 01:00", "2026-03-29 01:15", "2026-03-29 01:30", "2026-03-29 01:45"]
    # New York: 02:00 EST jumps to 03:00 EDT (07:00 UTC) on 2026-03-08
    got = fires("30 2 * * *", "America/New_York", utc(2026, 3, 7), utc(2026, 3, 9, 12))
    assert got == ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30"]


def test_a_time_that_occurs_twice_fires_once_at_its_first_occurrence() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET; 02:30 comes at 00:30 and
    # 01:30 UTC, and fires at 00:30 UTC only
    got = fires("30 2 * * *", BERLIN, utc(2026, 10, 23), utc(2026, 10, 27))
    assert got == ["2026-10-23 00:30", "2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"]
    # asked from within the repeated hour, after its first occurrence: the next day's
    at_two_thirty = CronSchedule("30 2 * * *", BERLIN)
    assert at_two_thirty.next_after(utc(2026, 10, 25, 1, 0)) == utc(2026, 10, 26, 1, 30)


def test_an_hourly_cron_fires_every_real_hour_across_both_changes() -> None:
    spring = fires("0 * * * *", BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    assert spring == [f"2026-03-29 {h:02}:00" for h in range(4)]
    autumn = fires("0 * * * *", BERLIN, utc(2026, 10, 24, 22), utc(2026, 10, 25, 3))
    assert autumn == ["2026-10-24 23:00"] + [f"2026-10-25 {h:02}:00" for h in range(4)]
    # asked from within the repeated hour, each occurrence is next in turn
    hourly = CronSchedule("30 * * * *", BERLIN)
    assert hourly.next_after(utc(2026, 10, 25, 0, 45)) == utc(2026, 10, 25, 1, 30)
    assert hourly.next_after(utc(2026, 10, 25, 1, 30)) == utc(2026, 10, 25, 2, 30)
    every_quarter = fires("*/15 * * * *", BERLIN, utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 2))
    assert every_quarter == [
        f"2026-10-25 {h:02}:{m:02}" for h in range(2) for m in (0, 15, 30, 45)
    ] + ["2026-10-25 02:00"]


def test_slots_are_every_fire_time_after_until_included() -> None:
    got = fires("0 */6 * * *", None, utc(2026, 5, 1, 0), utc(2026, 5, 2, 0))
    assert got == ["2026-05-01 06:00", "2026-05-01 12:00", "2026-05-01 18:00", "2026-05-02 00:00"]
    assert fires("0 */6 * * *", None, utc(2026, 5, 1, 1), utc(2026, 5, 1, 5)) == []


def test_previous_is_the_latest_fire_time_at_or_before() -> None:
    daily = CronSchedule("0 2 * * *", BERLIN)
    assert daily.previous(utc(2026, 7, 10, 0, 0)) == utc(2026, 7, 10, 0, 0)
    assert daily.previous(utc(2026, 7, 9, 23, 59)) == utc(2026, 7, 9, 0, 0)
    assert daily.previous(utc(2026, 3, 29, 12)) == utc(2026, 3, 29, 1, 0)  # the gap's end
    leap = CronSchedule("0 0 29 2 *")
    assert leap.previous(utc(2103, 1, 1)) == utc(2096, 2, 29)
    assert leap.next_after(utc(2097, 1, 1)) == utc(2104, 2, 29)


def test_naive_times_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        CronSchedule("0 2 * * *").next_after(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match=r"unknown time zone 'Europe/Berln'.*IANA"):
        CronSchedule("0 2 * * *", "Europe/Berln")
    with pytest.raises(ValueError, match="has 7 fields"):
        CronSchedule("0 0 0 ? * * *")


def _transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    """The instants in ``year`` at which ``zone``'s offset changes (to the minute)."""
    found = []
    hour = datetime(year, 1, 1, tzinfo=UTC)
    while hour.year == year:
        after = hour + timedelta(hours=1)
        if hour.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            minute = hour
            while minute.astimezone(zone).utcoffset() == hour.astimezone(zone).utcoffset():
                minute += timedelta(minutes=1)
            found.append(minute)
        hour = after
    return found


def _reference(cron: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The module docstring's rules, applied minute by minute by brute force."""
    parsed = CronSchedule(cron)._cron
    every_hour = len(parsed.hours) == 24

    def names(wall: datetime) -> bool:
        return (
            parsed.matches(wall.date())
            and wall.hour in parsed.hours
            and wall.minute in parsed.minutes
        )

    out = []
    moment = start + timedelta(minutes=1)
    while moment <= end:
        local = moment.astimezone(zone)
        wall = local.replace(tzinfo=None)
        earlier = moment - timedelta(minutes=1)
        jumped = local.utcoffset() - earlier.astimezone(zone).utcoffset()  # type: ignore[operator]
        fires = names(wall) and (local.fold == 0 or every_hour)
        if jumped > timedelta(0) and not every_hour:  # the gap ends now: its wall times fire
            gap = wall - jumped
            while gap < wall and not fires:
                fires = names(gap)
                gap += timedelta(minutes=1)
        if fires:
            out.append(moment)
        moment += timedelta(minutes=1)
    return out


@pytest.mark.parametrize(
    "zone_name",
    [
        "Europe/Berlin",
        "America/New_York",
        "America/Santiago",  # changes at midnight: 00:00 does not exist in spring
        "Australia/Sydney",  # southern hemisphere
        "Australia/Lord_Howe",  # changes by 30 minutes
        "Pacific/Chatham",  # +12:45/+13:45
        "Asia/Kolkata",  # no change
    ],
)
def test_fire_times_match_the_rules_applied_minute_by_minute(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    crons = ["30 2 * * *", "0 0 * * *", "0 * * * *", "*/20 1-3 * * *", "15,45 */2 * * *"]
    around = _transitions(zone, 2026) or [datetime(2026, 6, 1, tzinfo=UTC)]
    for instant in around:
        start, end = instant - timedelta(hours=26), instant + timedelta(hours=26)
        for cron in crons:
            got = list(CronSchedule(cron, zone_name).slots(start, end))
            assert got == _reference(cron, zone, start, end), (cron, instant)
            # next_after and previous agree with slots at every fire time
            for before, fire in zip([start, *got], got, strict=False):
                assert CronSchedule(cron, zone_name).next_after(before) == fire
            for fire in got:
                assert CronSchedule(cron, zone_name).previous(fire) == fire
