"""The center's business clock: its time zone, opening hours and days, US federal
holidays and the closure dates the center adds.

A request's reply is due a number of business days' worth of business hours after it
arrives: sent on Friday evening before a Monday holiday, it starts counting on Tuesday
morning. The due time is computed here once, when the request arrives, and stored
(``appointment_requests.reply_due_at``), so the queue sorts and filters "overdue" in SQL.

No Flask here; ``from_settings`` reads the plain settings mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

# A maintained calendar of US federal holidays (with their observed days), instead of a
# hand-kept list that someone must remember to extend every year.
import holidays
from babel import dates as babel_dates

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ClockSettingError(ValueError):
    """A clock setting cannot be read; the message names it."""


@dataclass(frozen=True, kw_only=True)
class BusinessClock:
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/New_York"))
    opens: time = time(8, 0)
    closes: time = time(17, 0)
    days: frozenset[int] = frozenset(range(5))  # Monday is 0
    closures: frozenset[date] = frozenset()
    reply_days: int = 2

    @cached_property
    def _federal(self) -> holidays.HolidayBase:
        # Years are filled in as dates are asked about.
        return holidays.country_holidays("US")

    @property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    @property
    def zone_name(self) -> str:
        return self.zone.key

    @cached_property
    def zone_label(self) -> str:
        """The zone as staff say it: "Eastern time", not "America/New_York" (CLDR's
        generic name, the same all year, so it is right in summer and in winter)."""
        name = babel_dates.get_timezone_name(
            self.zone, width="long", locale="en_US", zone_variant="generic"
        )
        if name.startswith("Unknown"):  # CLDR has no name for it (UTC itself): its key
            return self.zone.key
        return name[: -len(" Time")] + " time" if name.endswith(" Time") else name

    def local(self, moment: datetime) -> datetime:
        return _aware(moment).astimezone(self.zone)

    def today(self, now: datetime) -> date:
        return self.local(now).date()

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.closures and day not in self._federal

    def closed_because(self, day: date) -> str | None:
        """Why a weekday is not a business day: the holiday's name, or "closed"."""
        if day in self.closures:
            return "Center closed"
        return self._federal.get(day)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """The day's opening hours as UTC instants (DST changes happen at night)."""
        start = datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC)
        end = datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC)
        return start, end

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of business time after ``start``."""
        start = _aware(start)
        remaining = amount
        day = self.local(start).date()
        for _ in range(3660):  # ten years: a clock with no business days never ends
            if self.is_business_day(day):
                opens, closes = self._window(day)
                begin = max(start, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
        raise ClockSettingError("the business clock has no business days")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (zero if ``end`` is not later)."""
        start, end = _aware(start), _aware(end)
        total = timedelta()
        day = self.local(start).date()
        last = self.local(end).date()
        while day <= last:
            if self.is_business_day(day):
                opens, closes = self._window(day)
                begin, finish = max(start, opens), min(end, closes)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total

    def reply_due(self, received: datetime) -> datetime:
        """When the promised reply is due: ``reply_days`` business days of business hours."""
        return self.add_business_time(received, self.day_length * self.reply_days)


def _aware(moment: datetime) -> datetime:
    # Stored times come back aware (app/models.py's UtcDateTime); a naive one here would be
    # read as the server's local time by astimezone(), silently hours off.
    if moment.tzinfo is None:
        raise ValueError("the business clock needs timezone-aware datetimes")
    return moment


def _hours(raw: str) -> tuple[time, time]:
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ClockSettingError(f"BUSINESS_HOURS must look like 08:00-17:00, got {raw!r}") from None
    if closes <= opens:
        raise ClockSettingError(f"BUSINESS_HOURS must close after it opens, got {raw!r}")
    return opens, closes


def _days(raw: str) -> frozenset[int]:
    names = [part.strip().lower()[:3] for part in raw.split(",") if part.strip()]
    if not names or any(name not in DAY_NAMES for name in names):
        raise ClockSettingError(f"BUSINESS_DAYS must list days like mon,tue,wed, got {raw!r}")
    return frozenset(DAY_NAMES.index(name) for name in names)


def _closures(raw: str) -> frozenset[date]:
    try:
        return frozenset(date.fromisoformat(p.strip()) for p in raw.split(",") if p.strip())
    except ValueError:
        raise ClockSettingError(
            f"CENTER_CLOSURES must list dates like 2026-12-24,2026-12-31, got {raw!r}"
        ) from None


def from_settings(settings: Mapping) -> BusinessClock:
    try:
        zone = ZoneInfo(settings["CENTER_TIMEZONE"])
    except (KeyError, ValueError) as error:
        raise ClockSettingError(
            f"CENTER_TIMEZONE must be a zone like America/New_York: {error}"
        ) from None
    opens, closes = _hours(settings["BUSINESS_HOURS"])
    return BusinessClock(
        zone=zone,
        opens=opens,
        closes=closes,
        days=_days(settings["BUSINESS_DAYS"]),
        closures=_closures(settings["CENTER_CLOSURES"]),
        reply_days=settings["REPLY_BUSINESS_DAYS"],
    )
