"""A Spanish e-mail is a catalog away: with a compiled catalog for a locale, messages
queued in that locale come out in it, and whatever it does not translate stays English."""

from __future__ import annotations

import struct

import pytest

from app.mail import messages
from tests.support.spanish import confirmation_in

SPANISH = {
    "": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n",
    "We received your appointment request (reference %(reference)s)": (
        "Recibimos su solicitud de cita (referencia %(reference)s)"
    ),
    "What happens next": "Qué pasa ahora",
    (
        "We will contact you within %(count)s business day to talk about the first appointment."
        "\0We will contact you within %(count)s business days to talk about the first"
        " appointment."
    ): (
        "Le llamaremos en %(count)s día hábil para hablar de la primera cita."
        "\0Le llamaremos en %(count)s días hábiles para hablar de la primera cita."
    ),
}


def write_mo(path, catalog: dict[str, str]) -> None:
    """GNU gettext's binary catalog format (what `msgfmt` or `pybabel compile` write)."""
    keys = sorted(catalog)
    ids = [k.encode() for k in keys]
    strs = [catalog[k].encode() for k in keys]
    header = 7 * 4
    originals = header
    translations = originals + 8 * len(keys)
    offset = translations + 8 * len(keys)
    table_ids, table_strs, blob = [], [], b""
    for data in ids:
        table_ids += [len(data), offset + len(blob)]
        blob += data + b"\0"
    for data in strs:
        table_strs += [len(data), offset + len(blob)]
        blob += data + b"\0"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        struct.pack("<7I", 0x950412DE, 0, len(keys), originals, translations, 0, 0)
        + struct.pack(f"<{len(table_ids)}I", *table_ids)
        + struct.pack(f"<{len(table_strs)}I", *table_strs)
        + blob
    )


@pytest.fixture
def spanish_catalog(tmp_path, monkeypatch):
    write_mo(tmp_path / "es" / "LC_MESSAGES" / "messages.mo", SPANISH)
    monkeypatch.setattr(messages, "TRANSLATIONS", tmp_path)
    monkeypatch.setattr(messages, "LOCALES", ("en", "es"))
    messages.environment.cache_clear()
    yield
    messages.environment.cache_clear()


def test_a_message_queued_in_spanish_comes_out_in_spanish(spanish_catalog):
    message = confirmation_in("es")
    assert message["Subject"] == "Recibimos su solicitud de cita (referencia K7QM-4XPD-9RTA)"
    assert message["Content-Language"] == "es"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Qué pasa ahora" in part
        assert "Le llamaremos en 2 días hábiles" in part
        # Not in the catalog: English rather than nothing.
        assert "If you need urgent medical help, call 911." in part
    assert '<html lang="es">' in html


def test_a_locale_without_a_catalog_is_english():
    message = confirmation_in("xx")
    assert message["Subject"] == "We received your appointment request (reference K7QM-4XPD-9RTA)"
    assert message["Content-Language"] == "en"
