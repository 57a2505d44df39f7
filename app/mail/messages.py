"""Building an outbox message into a MIME e-mail: subject, plain text and HTML parts.

Templates live in templates/email/ and mark every sentence for translation
(`{% trans %}`), read through the site's one gettext catalog under translations/ (the
pages' too: docs/translations.md), in the locale stored on the outbox row.
The message depends only on the outbox row and the settings, never on the clock, so a
re-send after a crash is byte for byte the same message with the same Message-ID.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.common.i18n import DEFAULT_LANGUAGE, LANGUAGES
from app.requests import reference_codes
from app.vocabulary import MessageKind

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "email"
TRANSLATIONS = ROOT / "translations"
LOCALES = LANGUAGES
DEFAULT_LOCALE = DEFAULT_LANGUAGE


class MessageRefused(ValueError):
    """A value bound for a header would break it (CR/LF, not an address...): the message
    is not built, let alone sent."""


@dataclass(frozen=True, kw_only=True)
class MailSettings:
    sender: str
    center_name: str
    center_phone: str
    callback_phone: str
    reply_days: int
    # Where the public reaches the site: the private link's address starts with it.
    public_url: str = "http://127.0.0.1:8000"


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    translations = gettext.translation(
        "messages", localedir=TRANSLATIONS, languages=[locale], fallback=True
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return env


def _no_line_breaks(name: str, value: str) -> str:
    # The email package refuses CR/LF in a header too; saying so here makes the refusal
    # ours, named, and independent of the library's version.
    if any(ch in value for ch in "\r\n\x00"):
        raise MessageRefused(f"{name} contains a line break")
    return value


def parse_address(name: str, value: str) -> Address:
    """Exactly one address, with no line breaks and nothing after it."""
    _no_line_breaks(name, value)
    found = getaddresses([value])
    if len(found) != 1 or "@" not in found[0][1]:
        raise MessageRefused(f"{name} is not one e-mail address")
    display, addr = found[0]
    local, _, domain = addr.rpartition("@")
    try:
        return Address(display_name=display, username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise MessageRefused(f"{name} is not a valid e-mail address") from exc


def message_id(token: str, sender: Address) -> str:
    _no_line_breaks("token", token)
    if not token.isalnum():
        raise MessageRefused("token is not alphanumeric")
    return f"<outbox.{token}@{sender.domain}>"


def build(
    *,
    kind: MessageKind,
    locale: str,
    token: str,
    recipient: str,
    payload: dict,
    created_at: datetime,
    settings: MailSettings,
) -> EmailMessage:
    locale = locale if locale in LOCALES else DEFAULT_LOCALE
    sender = parse_address("MAIL_SENDER", settings.sender)
    to = parse_address("recipient", recipient)
    context = _context(kind, payload, settings, locale)
    env = environment(locale)
    name = kind.value
    subject = env.get_template(f"{name}_subject.txt").render(context).strip()
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context, locale=locale, subject=subject)

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = _no_line_breaks("subject", subject)
    message["Date"] = format_datetime(created_at)
    message["Message-ID"] = message_id(token, sender)
    # Ask auto-responders (out of office...) not to answer a no-reply sender.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    # After the parts: making the message multipart moves Content-* headers into them.
    message["Content-Language"] = locale
    # The library draws a random boundary; a fixed one keeps a re-send identical.
    message.set_boundary(f"==outbox-{token}==")
    return message


def _private_link(token: object, settings: MailSettings, locale: str) -> str | None:
    """The request's private page (issue 29), in the e-mail's language. The token goes in
    the query string: the app's, gunicorn's and nginx's logs keep paths only."""
    if token is None:
        return None
    if not (isinstance(token, str) and token.isascii() and token.isalnum()):
        raise MessageRefused("link is not a link token")
    prefix = "/es" if locale == "es" else ""
    return f"{settings.public_url.rstrip('/')}{prefix}/your-request/open?key={token}"


def _context(kind: MessageKind, payload: dict, settings: MailSettings, locale: str) -> dict:
    common = {
        "center_name": settings.center_name,
        "center_phone": settings.center_phone,
        "callback_phone": settings.callback_phone,
        "reply_days": settings.reply_days,
    }
    if kind in (MessageKind.CONFIRMATION, MessageKind.REQUEST_LINK):
        reference = str(payload["reference"])
        if not reference_codes.parse(reference):
            raise MessageRefused("reference is not a reference code")
        return {
            **common,
            "reference": reference_codes.display(reference),
            "link": _private_link(payload.get("link"), settings, locale),
        }
    return {
        **common,
        "arrived": int(payload["arrived"]),
        # Alerts queued before issue 29 carry no document count.
        "documents": int(payload.get("documents", 0)),
        "interpreter": int(payload["interpreter"]),
        "overdue": int(payload["overdue"]),
        "queue_url": _no_line_breaks("queue_url", str(payload["queue_url"])),
    }
