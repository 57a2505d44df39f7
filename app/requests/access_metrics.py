"""Access metrics: does the center keep its promise to call back?

For requests received in a period (the center's local dates, inclusive):

- received per day;
- business hours from receipt to first contact (the first move to contacted, awaiting
  records or scheduled), median and 90th percentile, counted by the business clock when the
  contact was recorded (``contact_business_minutes``); the 90th percentile is the nearest
  rank: the smallest value at least 90% of contacts took no longer than;
- the share contacted within the promise: contacted by the reply-due time, out of those
  whose outcome is known (contacted, or past due without contact; a request still inside
  its promise is not counted either way yet);
- how many still wait for first contact ("open") and how many of those are overdue;

overall, by referral and by language. Two queries whatever the period.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import AppointmentRequest
from app.requests import overdue
from app.requests.csv_export import rows_to_csv
from app.vocabulary import AWAITING_FIRST_CONTACT, Language

# The longest period one page computes: a year of days in the chart.
MAX_DAYS = 366


@dataclass
class Group:
    label: str
    received: int = 0
    contacted: int = 0
    in_time: int = 0
    known: int = 0  # outcome known: contacted, or past due without contact
    open: int = 0
    overdue: int = 0
    minutes: list[int] = field(default_factory=list)

    @property
    def median_hours(self) -> float | None:
        return round(statistics.median(self.minutes) / 60, 1) if self.minutes else None

    @property
    def p90_hours(self) -> float | None:
        if not self.minutes:
            return None
        ordered = sorted(self.minutes)
        return round(ordered[math.ceil(0.9 * len(ordered)) - 1] / 60, 1)

    @property
    def share_in_time(self) -> float | None:
        """Percent, one decimal; None when no outcome is known yet."""
        return round(100 * self.in_time / self.known, 1) if self.known else None


@dataclass(frozen=True)
class Metrics:
    start: date
    end: date
    per_day: list[tuple[date, int]]
    overall: Group
    by_referral: list[Group]
    by_language: list[Group]

    @property
    def busiest(self) -> int:
        return max((n for _, n in self.per_day), default=0)


def _referral_label(has_referral: bool) -> str:
    return "Physician referral" if has_referral else "Self-referral"


def access_metrics(session: Session, *, start: date, end: date, now: datetime) -> Metrics:
    ar = AppointmentRequest
    in_period = (ar.received_on >= start, ar.received_on <= end)
    waiting = ar.status.in_(AWAITING_FIRST_CONTACT)
    contacted = ar.first_contact_at.is_not(None)
    rows = session.execute(
        select(
            ar.received_on,
            ar.has_referral,
            ar.language,
            func.count(),
            func.count(ar.first_contact_at),
            func.sum(case((contacted & (ar.first_contact_at <= ar.reply_due_at), 1), else_=0)),
            func.sum(case((contacted | (ar.reply_due_at < now), 1), else_=0)),
            func.sum(case((waiting, 1), else_=0)),
            func.sum(case((overdue.condition(now), 1), else_=0)),
        )
        .where(*in_period)
        .group_by(ar.received_on, ar.has_referral, ar.language)
    ).all()
    overall = Group("All requests")
    referral = {True: Group(_referral_label(True)), False: Group(_referral_label(False))}
    language = {lang.value: Group(lang.label) for lang in Language}
    days: dict[date, int] = {}
    for day, has_referral, lang, received, n_contacted, in_time, known, n_open, n_overdue in rows:
        days[day] = days.get(day, 0) + received
        for group in (overall, referral[bool(has_referral)], language[str(lang)]):
            group.received += received
            group.contacted += n_contacted
            group.in_time += in_time or 0
            group.known += known or 0
            group.open += n_open or 0
            group.overdue += n_overdue or 0
    for has_referral, lang, minutes in session.execute(
        select(ar.has_referral, ar.language, ar.contact_business_minutes).where(
            *in_period, ar.contact_business_minutes.is_not(None)
        )
    ):
        for group in (overall, referral[bool(has_referral)], language[str(lang)]):
            group.minutes.append(minutes)
    per_day = [
        (start + timedelta(days=n), days.get(start + timedelta(days=n), 0))
        for n in range((end - start).days + 1)
    ]
    return Metrics(
        start=start,
        end=end,
        per_day=per_day,
        overall=overall,
        by_referral=[referral[True], referral[False]],
        by_language=list(language.values()),
    )


CSV_HEADER = [
    "group",
    "received",
    "contacted",
    "median_business_hours_to_contact",
    "p90_business_hours_to_contact",
    "percent_contacted_within_promise",
    "waiting_for_first_contact",
    "overdue",
]


def metrics_csv(metrics: Metrics) -> Iterator[str]:
    """The table, then the received-per-day series, formula-safe."""
    rows: list[list[object]] = [CSV_HEADER]
    for group in [metrics.overall, *metrics.by_referral, *metrics.by_language]:
        rows.append(
            [
                group.label,
                group.received,
                group.contacted,
                group.median_hours,
                group.p90_hours,
                group.share_in_time,
                group.open,
                group.overdue,
            ]
        )
    rows.append([])
    rows.append(["date", "received"])
    rows.extend([day.isoformat(), count] for day, count in metrics.per_day)
    return rows_to_csv(rows)
