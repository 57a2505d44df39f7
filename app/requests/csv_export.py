"""The queue as CSV, safe to open in spreadsheet programs.

A cell that starts with = + - @ (or a tab or carriage return, which some programs skip
before looking) can run as a formula; such cells get a leading apostrophe, which
spreadsheets read as "this is text".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.audit import trail
from app.models import AppointmentRequest
from app.requests import reference_codes
from app.requests.fields import FIELDS, RequestField, answer_given, stored_answer
from app.requests.intake_queue import QueueFilters, QueueRow, iter_queue
from app.vocabulary import YesNo

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Requests read at once: the queue's keyset batch, then their answers in one query.
_BATCH = 1000


@dataclass(frozen=True)
class ExportRow:
    queue: QueueRow  # where intake has got to: status, times, who has it, overdue
    request: AppointmentRequest  # every answer, with its referral


Column = tuple[str, Callable[[ExportRow], object]]

# Intake's work on the request, then every answer of the question list.
WORK_COLUMNS: tuple[Column, ...] = (
    ("reference", lambda r: reference_codes.display(r.queue.reference)),
    ("status", lambda r: r.queue.status.value),
    ("submitted_at_utc", lambda r: _iso(r.queue.submitted_at)),
    ("reply_due_utc", lambda r: _iso(r.queue.reply_due)),
    ("overdue", lambda r: r.queue.overdue),
    ("claimed_by", lambda r: r.queue.claimed_by_name),
    # The page the form was filled in on (PageLanguage): not a question, a fact of it.
    ("form_language", lambda r: r.queue.form_language),
)


def _answer(field: RequestField, *, extension: bool = False) -> Callable[[ExportRow], object]:
    return lambda r: answer_given(field, stored_answer(r.request, field, extension=extension))


def answer_columns() -> Iterator[Column]:
    """One column per question of app/requests/fields.py, in the form's order, headed by
    the question's name; a phone's extension in the next column. Codes as stored (the
    vocabulary's values), a flag as yes or no (who filled in the form: its code)."""
    for field in FIELDS:
        yield field.name, _answer(field)
        if field.extension_column:
            yield field.extension_column, _answer(field, extension=True)


COLUMNS: tuple[Column, ...] = WORK_COLUMNS + tuple(answer_columns())
HEADER = tuple(name for name, _ in COLUMNS)


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


def export_rows(
    session: Session, *, filters: QueueFilters, viewer_id: int, now: datetime
) -> list[ExportRow]:
    """The queue with these filters, in its order, each request with all its answers:
    the queue's keyset batches, and one query for the answers of each batch."""
    rows: list[ExportRow] = []
    batch: list[QueueRow] = []
    for row in iter_queue(session, filters=filters, viewer_id=viewer_id, now=now, batch=_BATCH):
        batch.append(row)
        if len(batch) == _BATCH:
            rows.extend(_with_answers(session, batch))
            batch = []
    rows.extend(_with_answers(session, batch))
    return rows


def _with_answers(session: Session, batch: list[QueueRow]) -> list[ExportRow]:
    if not batch:
        return []
    requests = {
        r.id: r
        for r in session.scalars(
            select(AppointmentRequest)
            .options(selectinload(AppointmentRequest.referral))
            .where(AppointmentRequest.id.in_([q.id for q in batch]))
        )
    }
    return [ExportRow(q, requests[q.id]) for q in batch]


def queue_csv(rows: Iterable[ExportRow]) -> Iterator[str]:
    """The rows as CSV lines, header first: codes from the vocabulary, times UTC."""
    return rows_to_csv([HEADER] + [[_cell(get(r)) for _, get in COLUMNS] for r in rows])


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return YesNo.YES if value else YesNo.NO
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def export_detail(session: Session, *, filters: QueueFilters) -> str:
    """What the export's audit entry says it held: the filters; the search text only as
    a keyed hash (it may be a name)."""
    return "CSV of the queue: " + trail.filters_detail(session, filters=filters)
