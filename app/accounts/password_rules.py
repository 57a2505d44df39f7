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
NAME_ADVICE = (
    "Choose a password that does not lean on your name or the center's name: without "
    "them, what is left is easy to guess. Try three or four unrelated words"
)
# Words shorter than this are left in when the names are taken out ("Don", "&").
_SHORTEST_NAME_PART = 3


def weakness(
    password: str, *, user_inputs: tuple[str, ...] = (), center_names: tuple[str, ...] = ()
) -> str | None:
    """What is wrong with the password, for a person, or None.

    ``user_inputs`` are the person's email and name, ``center_names`` the center's and
    the program's. zxcvbn knows them as words, but still scores "CaseyRivera2026!" or
    "Moffitt2026!!" 3 (the digits and symbols count as random): so the password is also
    scored with every such word taken out, and what is left must be strong on its own."""
    if not password.strip():
        return "Enter a password with letters, numbers or symbols, not only spaces"
    names = [part for value in (*user_inputs, *center_names) for part in _parts(value)]
    # Imported on first use: its dictionaries take about 13 MB, and most workers never
    # set a password (docs/performance.md, worker memory).
    from zxcvbn import zxcvbn

    scored = password[:_SCORED_LENGTH]
    if zxcvbn(scored, user_inputs=names)["score"] < MIN_SCORE:
        return ADVICE
    rest = _without(scored, names)
    if rest != scored.lower() and zxcvbn(rest, user_inputs=names)["score"] < MIN_SCORE:
        return NAME_ADVICE
    return None


def _parts(value: str) -> list[str]:
    # "casey.intake@example.org" and "Casey Intake": each word is something to avoid.
    words = value.lower().replace("@", " ").replace(".", " ").split()
    return [value.lower(), *words]


def _without(password: str, names: list[str]) -> str:
    """The password in lower case with each name part taken out, longest first."""
    rest = password.lower()
    for part in sorted(set(names), key=len, reverse=True):
        if len(part) >= _SHORTEST_NAME_PART:
            rest = rest.replace(part, "")
    return rest
