"""Words that speak to the person filling in the form: "your date of birth" to the
patient, "the patient's date of birth" to anyone else.

Both sentences are written out whole and marked for translation on their own (never
stitched from "your"/"the patient's" and a noun): languages differ in more than the
possessive. Which one a page shows is decided per request by the journey's view
(``speak_to_patient``); anywhere else (staff pages, e-mails) the patient is a third person.
"""

from __future__ import annotations

from flask import g, has_request_context
from markupsafe import escape

_PATIENT_SPEAKING = "journey_speaks_to_patient"


def speak_to_patient(yes: bool) -> None:
    setattr(g, _PATIENT_SPEAKING, yes)


def speaking_to_patient() -> bool:
    return has_request_context() and bool(g.get(_PATIENT_SPEAKING, False))


class ForPerson:
    """A label or message with a sentence for the patient and one for anyone else; it
    becomes one of them when shown (like a lazy translation, which each sentence is)."""

    __slots__ = ("own", "others")

    def __init__(self, own: object, others: object) -> None:
        self.own = own
        self.others = others

    def __str__(self) -> str:
        return str(self.own if speaking_to_patient() else self.others)

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __eq__(self, other: object) -> bool:
        return str(self) == other if isinstance(other, str) else NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __contains__(self, text: str) -> bool:
        return text in str(self)

    def __add__(self, other: str) -> str:
        return str(self) + other


def for_person(own: object, others: object) -> ForPerson:
    return ForPerson(own, others)
