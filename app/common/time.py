"""The one clock the app reads: timezone-aware UTC. Stored times come back the same way
(``app/models.py``'s ``UtcDateTime``), so the two compare without conversions."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)
