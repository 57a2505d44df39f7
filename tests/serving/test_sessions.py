"""Keeping Flask's signing serializer changes nothing about the session cookie."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from app.serving.sessions import SigningSerializerKept


def test_the_kept_serializer_signs_and_reads_as_flasks_own(app):
    kept, stock = SigningSerializerKept(), SecureCookieSessionInterface()
    assert isinstance(app.session_interface, SigningSerializerKept)
    data = {"submitted_references": ["ABCDEFGHJKMN"]}
    signed_by_kept = kept.get_signing_serializer(app).dumps(data)
    signed_by_stock = stock.get_signing_serializer(app).dumps(data)
    assert stock.get_signing_serializer(app).loads(signed_by_kept) == data
    assert kept.get_signing_serializer(app).loads(signed_by_stock) == data
    assert kept.get_signing_serializer(app) is kept.get_signing_serializer(app)


def test_a_new_secret_key_gets_a_new_serializer(app):
    kept = SigningSerializerKept()
    before = kept.get_signing_serializer(app).dumps("x")
    app.secret_key = "another-testing-only-key"
    after = kept.get_signing_serializer(app)
    assert after.dumps("x") != before
    app.config["SECRET_KEY_FALLBACKS"] = ["testing-only-not-secret"]
    assert kept.get_signing_serializer(app).loads(before) == "x"
