"""Is a new password good enough? Long enough is not enough: "password1234" is twelve
characters. zxcvbn estimates how many guesses a password would take, offline, with
dictionaries of common and breached passwords, names and words, and spots keyboard
patterns, dates and repeats."""

from __future__ import annotations

# zxcvbn's score 3 is "safely unguessable: moderate protection from offline slow-hash
# scenario" (about 10^8 guesses and more). Below that a password is refused.
MIN_SCORE = 3
# zxcvbn's time grows with length; past this many characters only the start is scored,
# and a password this long is not short of guesses anyway.
_SCORED_LENGTH = 100

ADVICE = (
    "Choose a password that is harder to guess: this one is a common password or close "
    "to one. Try three or four unrelated words, like a line only you would think of"
)


def weakness(password: str, *, user_inputs: tuple[str, ...] = ()) -> str | None:
    """What is wrong with the password, for a person, or None."""
    if not password.strip():
        return "Enter a password with letters, numbers or symbols, not only spaces"
    inputs = [part for value in user_inputs for part in _parts(value)]
    # Imported on first use: its dictionaries take about 13 MB, and most workers never
    # set a password (docs/performance.md, worker memory).
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=inputs)
    if result["score"] < MIN_SCORE:
        return ADVICE
    return None


def _parts(value: str) -> list[str]:
    # "casey.intake@example.org" and "Casey Intake": each word is something to avoid.
    words = value.lower().replace("@", " ").replace(".", " ").split()
    return [value.lower(), *words]
