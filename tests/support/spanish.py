"""The Spanish catalog, read as a test reads it: what must be translated, and whether a page
still shows any of it in English."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from bs4 import BeautifulSoup

from app.mail import messages
from app.models import MessageKind

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "translations" / "messages.pot"
SPANISH_PO = ROOT / "translations" / "es" / "LC_MESSAGES" / "messages.po"
_PLACEHOLDER_OR_TAG = re.compile(r"%\([a-z_]+\)s|<[^>]+>")


def read_catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle, locale="es" if path == SPANISH_PO else None)


def singular(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


@cache
def english_fragments() -> tuple[str, ...]:
    """The English words of every message whose Spanish differs: each piece of text
    between placeholders and tags, as a reader would see it on a page."""
    fragments = set()
    for message in read_catalog(SPANISH_PO):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for english, spanish in zip(ids, strings, strict=False):
            if english == spanish:
                continue  # a name, "Medicare", "No": the same in both languages
            for piece in _PLACEHOLDER_OR_TAG.split(english):
                piece = " ".join(piece.split()).strip(" ,.:;")
                if len(piece) >= 2:
                    fragments.add(piece)
    return tuple(sorted(fragments))


def readable_text(html: str) -> str:
    """What a person reads on a page: its title, description and text, without the
    switch to the other language (which says "English" on purpose)."""
    soup = BeautifulSoup(html, "html.parser")
    for switch in soup.select("[data-language-switch]"):
        switch.decompose()
    for hidden in soup(["script", "style"]):
        hidden.decompose()
    parts = [soup.get_text(" ")]
    parts += [tag.get("content", "") for tag in soup.select("meta[name=description]")]
    parts += [tag.get("aria-label", "") for tag in soup.select("[aria-label]")]
    return " ".join(" ".join(parts).split())


def english_left_in(text: str) -> list[str]:
    """The English messages that appear, as whole words, in ``text``."""
    return [
        fragment
        for fragment in english_fragments()
        if re.search(r"(?<![\w])" + re.escape(fragment) + r"(?![\w])", text)
    ]


def confirmation_in(locale: str):
    """The confirmation e-mail of one request, built as the outbox builds it, in ``locale``."""
    return messages.build(
        kind=MessageKind.CONFIRMATION,
        locale=locale,
        token="0123456789abcdef0123456789abcdef",
        recipient="persona@example.com",
        payload={"reference": "K7QM4XPD9RTA"},
        created_at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        settings=messages.MailSettings(
            sender="Citas <citas@example.org>",
            center_name="Center",
            center_phone="1-888-663-3488",
            callback_phone="1-888-663-3488",
            reply_days=2,
        ),
    )
