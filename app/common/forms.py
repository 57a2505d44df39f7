"""Form pieces every staff area uses: a button's form, select options, and date and time
inputs that may be left empty."""

from __future__ import annotations

from wtforms import DateField, TimeField
from wtforms.fields.choices import SelectChoice

from app.common.validation import TrimmedForm

# WTForms' own "Not a valid choice." does not say what to do.
NOT_OFFERED = "Choose one of the options shown (the page may have changed: reload it)"
DATE_FORMAT = "Enter the date as shown, for example 2026-12-03"
TIME_FORMAT = "Enter the time as shown, for example 14:30"


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class _Blankable:
    """A date or time input that may be left empty; a value it cannot read gets a
    message that says what to type, instead of WTForms' "Not a valid date value"."""

    message: str

    def process_formdata(self, valuelist):
        if not valuelist or not " ".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(self.message) from None


class OptionalDateField(_Blankable, DateField):
    message = DATE_FORMAT


class OptionalTimeField(_Blankable, TimeField):
    message = TIME_FORMAT


class ActionForm(TrimmedForm):
    """A button that changes something: only its CSRF token."""
