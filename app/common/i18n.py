"""The words people read, marked for translation in one way everywhere, and the languages
the public pages are written in.

Python code writes ``_("...")`` for a sentence used inside a request and ``_l("...")``
for one built at import time (form labels, messages), which must wait for the request to
know its language. Templates write ``{{ _("...") }}`` or ``{% trans %}``. Placeholders are
named: ``_("Step %(number)s of %(total)s", number=2, total=5)``.

Both read Flask-Babel's catalogs (translated once per process and language:
``app.vocabulary.translated_once``, issue 28), under
``translations/`` (docs/translations.md). The language of a request comes from its address
(``/es/...``: app/serving/language.py), never from the browser; outside a request (the
command line, the e-mail worker) they give the English text.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext, ngettext
from flask_babel.speaklater import LazyString

from app.vocabulary import translated_once

# The languages of the public pages, the first being the source text and the default.
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
# What each language's switch link says, in its own language.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def _(text: str, **variables: Any) -> str:
    translated = translated_once(text)
    return translated % variables if variables else translated


def _l(text: str, **variables: Any) -> Any:
    if variables:
        return lazy_gettext(text, **variables)
    # Flask-Babel's own lazy string (the same in templates, JSON and comparisons), around
    # the translation read once per process and language.
    return LazyString(translated_once, text)


def _n(singular: str, plural: str, number: int, **variables: Any) -> str:
    """``_n("%(num)s business day", "%(num)s business days", 2)``: ``num`` is the number."""
    return ngettext(singular, plural, number, **variables)
