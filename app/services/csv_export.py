"""The queue as CSV, safe to open in spreadsheet programs.

A cell that starts with = + - @ (or a tab or carriage return, which some programs skip
before looking) can run as a formula; such cells get a leading apostrophe, which
spreadsheets read as "this is text".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

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
