"""The business clock: the center's zone, hours and days, federal holidays, closures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.requests.business_clock import BusinessClock, ClockSettingError, from_settings
from config import Config, ConfigError
from tests.conftest import make_test_app

NEW_YORK = ZoneInfo("America/New_York")
CLOCK = BusinessClock()  # the defaults: New York, 08:00-17:00, Monday to Friday, 2 days


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def test_friday_evening_before_a_monday_holiday_counts_from_tuesday_morning():
    # Labor Day 2026 is Monday 7 September.
    received = ny(2026, 9, 4, 19, 0)
    due = CLOCK.reply_due(received)
    # Two business days of nine hours: Tuesday 08:00-17:00 and Wednesday 08:00-17:00.
    assert due == ny(2026, 9, 9, 17, 0)
    assert not CLOCK.is_business_day(date(2026, 9, 7))
    assert CLOCK.closed_because(date(2026, 9, 7)) == "Labor Day"
    # Nothing of the weekend or the holiday counts.
    assert CLOCK.business_time_between(received, ny(2026, 9, 8, 8, 0)) == timedelta(0)
    assert CLOCK.business_time_between(received, ny(2026, 9, 8, 10, 30)) == timedelta(hours=2.5)


def test_a_holiday_observed_on_friday_is_not_a_business_day():
    # Independence Day 2026 is a Saturday, observed on Friday 3 July.
    assert not CLOCK.is_business_day(date(2026, 7, 3))
    assert CLOCK.reply_due(ny(2026, 7, 2, 16, 0)) == ny(2026, 7, 7, 16, 0)


def test_across_the_end_of_daylight_saving_time():
    # Clocks go back on Sunday 1 November 2026: EDT (UTC-4) before, EST (UTC-5) after.
    received = ny(2026, 10, 30, 15, 0)  # 19:00 UTC
    due = CLOCK.reply_due(received)
    # Friday 2 h, Monday 9 h, Tuesday 7 h: 15:00 local, which is now 20:00 UTC.
    assert due == ny(2026, 11, 3, 15, 0)
    assert due.astimezone(UTC) == datetime(2026, 11, 3, 20, 0, tzinfo=UTC)
    assert CLOCK.business_time_between(received, ny(2026, 11, 2, 10, 0)) == timedelta(hours=4)


def test_across_the_start_of_daylight_saving_time():
    # Clocks go forward on Sunday 8 March 2026.
    received = ny(2026, 3, 6, 16, 0)  # 21:00 UTC (EST)
    assert CLOCK.reply_due(received) == ny(2026, 3, 10, 16, 0)  # 20:00 UTC (EDT)
    assert CLOCK.reply_due(received).astimezone(UTC).hour == 20


def test_closure_dates_and_christmas():
    clock = BusinessClock(closures=frozenset({date(2026, 12, 24)}))
    received = ny(2026, 12, 23, 16, 0)
    # 1 h on the 23rd; closed the 24th, Christmas the 25th, then the weekend; Monday 9 h,
    # Tuesday 8 h.
    assert clock.reply_due(received) == ny(2026, 12, 29, 16, 0)
    assert clock.closed_because(date(2026, 12, 24)) == "Center closed"
    assert CLOCK.reply_due(received) == ny(2026, 12, 28, 16, 0)


def test_a_request_inside_business_hours_is_due_two_working_days_later():
    assert CLOCK.reply_due(ny(2026, 11, 17, 10, 15)) == ny(2026, 11, 19, 10, 15)


def test_local_dates_and_times_are_the_centers():
    late = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # 22:30 on the 26th in New York
    assert CLOCK.today(late) == date(2026, 11, 26)
    assert CLOCK.local(late).tzname() == "EST"


def _settings(**changes) -> dict:
    names = ("CENTER_TIMEZONE", "BUSINESS_HOURS", "BUSINESS_DAYS", "CENTER_CLOSURES")
    return {**{n: getattr(Config, n) for n in names}, "REPLY_BUSINESS_DAYS": 2, **changes}


def test_settings_are_read_and_bad_ones_named():
    clock = from_settings(
        _settings(
            CENTER_TIMEZONE="America/Chicago",
            BUSINESS_HOURS="09:00-18:00",
            BUSINESS_DAYS="mon,tue,wed,thu,fri,sat",
            CENTER_CLOSURES="2026-12-24, 2026-12-31",
        )
    )
    assert clock.zone_name == "America/Chicago"
    assert clock.day_length == timedelta(hours=9)
    assert clock.is_business_day(date(2026, 11, 28))  # a Saturday
    assert not clock.is_business_day(date(2026, 12, 31))
    for name, value in (
        ("CENTER_TIMEZONE", "Mars/Olympus"),
        ("BUSINESS_HOURS", "9 to 5"),
        ("BUSINESS_HOURS", "17:00-08:00"),
        ("BUSINESS_DAYS", "weekdays"),
        ("CENTER_CLOSURES", "24 December"),
    ):
        with pytest.raises(ClockSettingError, match=name):
            from_settings(_settings(**{name: value}))


def test_the_app_refuses_to_start_with_a_bad_clock_setting(database_url):
    with pytest.raises(ConfigError, match="BUSINESS_DAYS"):
        make_test_app(database_url, BUSINESS_DAYS="someday")
