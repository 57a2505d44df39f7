"""The queue as CSV, safe to open in spreadsheet programs.

A cell that starts with = + - @ (or a tab or carriage return, which some programs skip
before looking) can run as a formula; such cells get a leading apostrophe, which
spreadsheets read as "this is text".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from app.audit import trail
from app.requests import reference_codes
from app.requests.intake_queue import QueueFilters, QueueRow
from app.vocabulary import YesNo

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

HEADER = [
    "reference",
    "status",
    "submitted_at_utc",
    "reply_due_utc",
    "overdue",
    "first_name",
    "last_name",
    "referral",
    "interpreter_needed",
    "claimed_by",
    # The contact answers (issue 15): numbers in E.164, extensions apart, codes as stored.
    "phone",
    "phone_ext",
    "submitter_phone",
    "submitter_phone_ext",
    "submitter_email",
    "call_first",
    "insurance_type",
    "form_language",
]


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def rows_to_csv(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text, a line at a time, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def queue_csv(rows: Iterable[QueueRow]) -> Iterator[str]:
    """The queue rows as CSV lines, header first: codes from the vocabulary, times UTC."""
    return rows_to_csv([HEADER] + [_row(r) for r in rows])


def _row(r: QueueRow) -> list[object]:
    return [
        reference_codes.display(r.reference),
        r.status.value,
        _iso(r.submitted_at),
        _iso(r.reply_due),
        YesNo.YES if r.overdue else YesNo.NO,
        r.first_name,
        r.last_name,
        "referral" if r.has_referral else "self",
        YesNo.YES if r.interpreter_needed else YesNo.NO,
        r.claimed_by_name or "",
        r.phone,
        r.phone_ext,
        r.submitter_phone,
        r.submitter_phone_ext,
        r.submitter_email,
        r.call_first,
        r.insurance_type,
        r.form_language,
    ]


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def export_detail(session: Session, *, filters: QueueFilters) -> str:
    """What the export's audit entry says it held: the filters; the search text only as
    a keyed hash (it may be a name)."""
    return "CSV of the queue: " + trail.filters_detail(session, filters=filters)
