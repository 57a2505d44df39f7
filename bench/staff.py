"""The staff pages at 100,000 requests: latency over HTTP, SQL statements in-process."""

from __future__ import annotations

from argon2 import PasswordHasher


def password_hash(password: str) -> str:
    return PasswordHasher().hash(password)


def measure(port: int, database_url: str, summary, *, samples: int) -> dict:
    return {"note": "The staff side is not on this branch yet: not measured."}
