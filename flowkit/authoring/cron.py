"""Cron expressions and when they fire, in a time zone's wall-clock time.

:func:`normalize_cron` reads what a user writes in ``@schedule(cron=...)``:

- a 5-field cron, ``minute hour day-of-month month day-of-week``, with ``*``, ``a-b``,
  ``a,b``, ``*/n`` and ``a-b/n``, month names (JAN..DEC) and day names (SUN..SAT, Sunday is 0
  or 7), or one of ``@hourly @daily @midnight @weekly @monthly @yearly @annually``;
- Metaflow's (AWS EventBridge's) 6-field form, ``minute hour day-of-month month day-of-week
  year``, as in ``0 0 ? * MON-FRI *``: ``?`` in day-of-month or day-of-week (one of them must
  have it), AWS's day-of-week numbers 1-7 meaning SUN-SAT, and a year of ``*``. It becomes
  the 5-field cron (``0 0 * * 1-5``). Six fields are never read as having a seconds field.

Anything else (a seconds field, seven fields, a specific year, ``L``/``W``/``#``, a range
that runs backwards, a day that never comes such as ``30 2``) is a ``ValueError`` saying
what is wrong and what to write instead. The normalized form is plain 5-field cron, as
Airflow, croniter and crontab read it: numbers for names, ``*`` for ``?``.

Day-of-month and day-of-week combine as in crontab: if both are restricted (neither starts
with ``*``), a day matching either fires; otherwise a day must match both.

:class:`CronSchedule` says when a cron fires in a time zone (UTC if none). The cron names
wall-clock times in that zone; each becomes instants as follows, on the days the clocks
change:

- A wall time that does not exist (spring forward: 02:30 in Europe/Berlin on 2026-03-29)
  fires once, at the first instant after the gap (03:00 local, 01:00 UTC); several such
  times (``*/15 2 * * *``), or one with the time the gap ends (``0 2,3 * * *``), fire once
  there together.
- A wall time that occurs twice (fall back: 02:30 in Europe/Berlin on 2026-10-25) fires
  once, at its first occurrence (02:30 CEST, 00:30 UTC).
- Except for crons that fire in every hour of the day (hour field ``*``): they follow real
  time, so a wall time that does not exist is skipped (the hour after the gap has its own
  fire time) and one that occurs twice fires at both occurrences. ``0 * * * *`` therefore
  fires every real hour across both changes, never twice at once and never missing one.

Fire times are whole minutes of the zone's wall clock, returned as UTC ``datetime``\\ s.
"""

from __future__ import annotations

import calendar
import heapq
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowkit.fastdata import dataclass

_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
#: Each field's lowest and highest value (day-of-week 7 is Sunday again).
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_FORMAT = "minute hour day-of-month month day-of-week"
_TERM = re.compile(r"^(?:(\*)|([0-9A-Z]+)(?:-([0-9A-Z]+))?)(?:/([0-9]+))?$")
#: How far ahead to look for a day a cron names: the Gregorian calendar repeats every 400
#: years, so a cron that names no day in that time names none ever.
_LONGEST_WAIT_DAYS = 146_097


def normalize_cron(expr: str) -> str:
    """``expr`` as plain 5-field cron (see the module's docstring for what is accepted)."""
    return _parse(expr).text


def _parse(expr: str) -> _Cron:
    if not isinstance(expr, str):
        raise ValueError(f"a cron expression is a string, not {expr!r}")
    text = expr.strip()
    if text.startswith("@"):
        alias = _ALIASES.get(text.lower())
        if alias is None:
            raise ValueError(
                f"unknown cron alias {text!r}: use one of {', '.join(sorted(_ALIASES))}, "
                f"or write the five fields ({_FORMAT})"
            )
        text = alias
    fields = text.upper().split()
    if len(fields) == 6:
        fields = _from_aws(fields, expr)
    elif len(fields) == 7:
        raise ValueError(
            f"cron {expr!r} has 7 fields, as Quartz's 'second minute hour day-of-month month "
            "day-of-week year': flowkit schedules whole minutes; drop the seconds and the "
            f"year and write the five fields {_FORMAT}"
        )
    elif len(fields) != 5:
        raise ValueError(
            f"cron {expr!r} has {len(fields)} fields: write five ({_FORMAT}), e.g. "
            "'0 2 * * *' for 02:00 every day, or Metaflow's six (… year) as '0 2 ? * * *'"
        )
    return _Cron.of(fields, expr)


def _from_aws(fields: list[str], expr: str) -> list[str]:
    """AWS's ``minute hour day-of-month month day-of-week year`` as the five cron fields."""
    minute, hour, dom, month, dow, year = fields
    if dom != "?" and dow != "?":
        raise ValueError(
            f"cron {expr!r} has 6 fields, read as Metaflow's (AWS) 'minute hour day-of-month "
            "month day-of-week year', which needs '?' in day-of-month or day-of-week: write "
            "e.g. '0 2 ? * * *' for 02:00 every day, or the 5 fields '0 2 * * *'; a first "
            "field of seconds is not supported (flowkit schedules whole minutes)"
        )
    if year != "*":
        raise ValueError(
            f"cron {expr!r} names the year {year!r}: a schedule cannot be limited to some "
            "years; write '*' as the year (or five fields) and undeploy the flow when done"
        )
    for name, value in (("day-of-month", dom), ("day-of-week", dow)):
        if value != "?" and re.search(r"[LW#]", value):
            raise ValueError(
                f"cron {expr!r}: {name} {value!r} uses AWS's L, W or #, which flowkit does "
                "not offer: list the days instead (e.g. day-of-month '28-31' is not 'L')"
            )
    if dow != "?":
        dow = ",".join(_aws_weekday_term(term, expr) for term in dow.split(","))
    return [minute, hour, "*" if dom == "?" else dom, month, "*" if dow == "?" else dow]


def _aws_weekday_term(term: str, expr: str) -> str:
    """An AWS day-of-week term (1-7 = SUN-SAT) in cron's numbers (0-6 = SUN-SAT)."""

    def shift(value: str) -> str:
        if value in _DAYS:
            return str(_DAYS[value])
        if not value.isdigit() or not 1 <= int(value) <= 7:
            raise ValueError(
                f"cron {expr!r}: day-of-week {value!r} is not a day: in Metaflow's 6-field "
                "(AWS) form days are 1-7 (SUN=1 .. SAT=7) or SUN..SAT"
            )
        return str(int(value) - 1)

    match = _TERM.match(term)
    if not match or match.group(1):
        return term  # '*' and '*/n' mean the same in both; bad terms are reported later
    low, high, step = match.group(2), match.group(3), match.group(4)
    text = shift(low) + (f"-{shift(high)}" if high else "")
    return text + (f"/{step}" if step else "")


@dataclass(frozen=True)
class _Cron:
    """A parsed 5-field cron: the values each field allows."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def of(cls, fields: list[str], expr: str) -> _Cron:
        texts: list[str] = []
        values: list[set[int]] = []
        for index, field in enumerate(fields):
            text, allowed = _field(index, field, expr)
            texts.append(text)
            values.append(allowed)
        weekdays = {0 if d == 7 else d for d in values[4]}
        cron = cls(
            text=" ".join(texts),
            minutes=tuple(sorted(values[0])),
            hours=tuple(sorted(values[1])),
            days=frozenset(values[2]),
            months=frozenset(values[3]),
            weekdays=frozenset(weekdays),
            days_restricted=not fields[2].startswith("*"),
            weekdays_restricted=not fields[4].startswith("*"),
        )
        cron._check_fires(expr)
        return cron

    def _check_fires(self, expr: str) -> None:
        if self.weekdays_restricted and self.days_restricted:
            return  # either matches: some weekday always comes
        longest = {m: 29 if m == 2 else calendar.monthrange(2001, m)[1] for m in self.months}
        if not any(d <= longest[m] for m in self.months for d in self.days):
            raise ValueError(
                f"cron {expr!r} never fires: no month it names has the day of the month it "
                "names; check the day-of-month and month fields"
            )

    def matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def walls(self, start: datetime) -> Iterator[datetime]:
        """Every wall-clock time the cron names, from ``start`` (naive, whole minutes) on."""
        day = start.date()
        first = (start.hour, start.minute)
        for _ in range(_LONGEST_WAIT_DAYS):
            if self.matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        if (hour, minute) >= first:
                            yield datetime(day.year, day.month, day.day, hour, minute)
            first = (0, 0)
            if day == date.max:
                return
            day += timedelta(days=1)


def _field(index: int, field: str, expr: str) -> tuple[str, set[int]]:
    """One field's normalized text and the values it allows."""
    name = _FIELD_NAMES[index]
    low_bound, high_bound = _BOUNDS[index]
    names = _MONTHS if index == 3 else _DAYS if index == 4 else {}
    texts: list[str] = []
    allowed: set[int] = set()

    def number(value: str) -> int:
        if value in names:
            return names[value]
        if not value.isdigit() or not low_bound <= int(value) <= high_bound:
            example = f" or {next(iter(names))}..{list(names)[-1]}" if names else ""
            raise ValueError(
                f"cron {expr!r}: {name} {value!r} is not in {low_bound}-{high_bound}{example}; "
                f"the fields are {_FORMAT}"
            )
        return int(value)

    for term in field.split(","):
        match = _TERM.match(term)
        if not match:
            hint = " ('?' only in Metaflow's 6-field form)" if term == "?" else ""
            raise ValueError(
                f"cron {expr!r}: {name} {field!r} is not a cron field{hint}: use '*', 'a', "
                f"'a-b', 'a,b', '*/n' or 'a-b/n' (the fields are {_FORMAT})"
            )
        star, low_text, high_text, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step == 0:
            raise ValueError(f"cron {expr!r}: {name} {term!r} steps by 0; use a step of 1 or more")
        if star:
            low, high = low_bound, high_bound
            if index == 4:
                high = 6  # Sunday once
            text = "*"
        else:
            low = number(low_text)
            high = number(high_text) if high_text else low
            if step_text and not high_text:
                high = 6 if index == 4 else high_bound  # crontab's 'a/n': from a to the end
            if high < low:
                end = 6 if index == 4 else high_bound
                raise ValueError(
                    f"cron {expr!r}: {name} range {term!r} runs backwards; to wrap around, "
                    f"write two ranges: '{low}-{end},{low_bound}-{high}'"
                )
            text = str(low) if low == high and not step_text else f"{low}-{high}"
        texts.append(text + (f"/{step}" if step_text else ""))
        allowed.update(range(low, high + 1, step))
    return ",".join(texts), allowed


def zone_named(timezone: str | None) -> tzinfo:
    """The time zone called ``timezone`` (UTC for None); ValueError naming an unknown one."""
    if timezone is None:
        return UTC
    if not isinstance(timezone, str) or not timezone:
        raise ValueError(f"a time zone is an IANA name such as 'Europe/Berlin', not {timezone!r}")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Berlin', "
            "'America/New_York' or 'UTC' (zoneinfo.available_timezones() lists them)"
        ) from None


class CronSchedule:
    """When a cron fires in a time zone (None = UTC): see the module's docstring for the
    days the clocks change. Times given must be timezone-aware; times returned are UTC."""

    def __init__(self, cron: str, timezone: str | None = None) -> None:
        self._cron = _parse(cron)
        self.cron = self._cron.text
        self.timezone = timezone
        self._zone = zone_named(timezone)
        self._every_hour = len(self._cron.hours) == 24

    def __repr__(self) -> str:
        return f"CronSchedule({self.cron!r}, {self.timezone!r})"

    def next_after(self, t: datetime) -> datetime:
        """The first fire time strictly after ``t``."""
        for fire in self._fires(t):
            return fire
        raise ValueError(f"{self!r} fires no more before the year 9999")

    def slots(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every fire time in (``after``, ``until``], oldest first."""
        until = _aware(until)
        for fire in self._fires(after):
            if fire > until:
                return
            yield fire

    def previous(self, t: datetime) -> datetime | None:
        """The latest fire time at or before ``t`` (None only if there is none since year 1)."""
        t = _aware(t)
        for days in (1 / 24, 1, 32, 400, 3000, _LONGEST_WAIT_DAYS):
            try:
                start = t - timedelta(days=days)
            except OverflowError:
                return None
            latest = None
            for fire in self.slots(start, t):
                latest = fire
            if latest is not None:
                return latest
        return None

    def _fires(self, after: datetime) -> Iterator[datetime]:
        """Every fire time strictly after ``after``, in order, each once."""
        after = _aware(after).astimezone(UTC)
        local = after.astimezone(self._zone)
        start = local.replace(tzinfo=None, second=0, microsecond=0)
        # In a repeated hour, wall times before ``local`` may still fire again later
        other = local.replace(fold=1 - local.fold)
        if other.utcoffset() != local.utcoffset():
            start -= abs(_offset(other) - _offset(local))
        pending: list[datetime] = []
        last = after
        for wall in self._cron.walls(start):
            first, instants = self._instants(wall)
            # no wall time from here on fires before ``first`` (see _instants)
            while pending and pending[0] < first:
                fire = heapq.heappop(pending)
                if fire > last:
                    last = fire
                    yield fire
            for instant in instants:
                if instant > after:
                    heapq.heappush(pending, instant)
        while pending:
            fire = heapq.heappop(pending)
            if fire > last:
                last = fire
                yield fire

    def _instants(self, wall: datetime) -> tuple[datetime, list[datetime]]:
        """When ``wall`` fires, and its earliest instant as if it always fired once: that
        instant never decreases as ``wall`` grows, and no instant of ``wall`` is before it."""
        fold0 = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        fold1 = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        if fold0 == fold1:
            return fold0, [fold0]
        if fold0.astimezone(self._zone).replace(tzinfo=None) == wall:  # it occurs twice
            return fold0, [fold0, fold1] if self._every_hour else [fold0]
        gap_end = self._gap_end(min(fold0, fold1), max(fold0, fold1))
        return gap_end, [] if self._every_hour else [gap_end]

    def _gap_end(self, before: datetime, after: datetime) -> datetime:
        """The instant the clocks jumped forward, between ``before`` and ``after``."""
        offset = _offset(after.astimezone(self._zone))
        low, high = before, after  # high has the new offset, low the old one
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) / 2
            if _offset(middle.astimezone(self._zone)) == offset:
                high = middle
            else:
                low = middle
        return high.replace(microsecond=0)


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    assert offset is not None  # an aware datetime
    return offset


def _aware(t: datetime) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(
            f"{t!r} has no time zone: pass an aware datetime, e.g. "
            "datetime.now(timezone.utc) or datetime(..., tzinfo=ZoneInfo('Europe/Berlin'))"
        )
    return t
