"""Reference codes a person can read over the phone.

Twelve characters from an alphabet without look-alikes (no 0/O, 1/I/L, U), drawn from
the operating system's CSPRNG: about 59 bits, so codes cannot be guessed or walked.
"""

from __future__ import annotations

import secrets

from app.models import REFERENCE_LENGTH

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(REFERENCE_LENGTH))


def display(reference: str) -> str:
    """ABCD-EFGH-JKMN: groups of four are easier to read aloud and to copy."""
    return "-".join(reference[i : i + 4] for i in range(0, len(reference), 4))


def parse(text: str) -> str | None:
    """The stored form of a reference typed by a person, or None if it cannot be one."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -")
    if len(cleaned) != REFERENCE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned
