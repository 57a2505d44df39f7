"""The words people read, marked for translation in one way everywhere.

Python code writes ``_("...")`` for a sentence used inside a request and ``_l("...")``
for one built at import time (form labels, vocabulary labels), which must wait for the
request to know its language. Templates write ``{{ _("...") }}`` or ``{% trans %}``.

Today these return the English text (Jinja's null translations in templates); Flask-Babel
replaces both functions here and the catalogs in templates, with no change at the call
sites. Placeholders are named: ``_("Step %(number)s of %(total)s", number=2, total=5)``.
"""

from __future__ import annotations

from typing import Any


def _(text: str, **variables: Any) -> str:
    return text % variables if variables else text


def _l(text: str, **variables: Any) -> str:
    return _(text, **variables)
