"""Staff sign-in through the hospital's OpenID Connect provider (issue 32), against a real
provider (oidc-provider, started once per session: tests/support/oidc_provider.py). The
browser's side at the provider is a requests session; the app's is Flask's test client."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from app.accounts import staff_accounts
from app.models import AuditEvent, StaffRole, StaffUser
from app.vocabulary import AuditAction
from tests.conftest import make_test_app
from tests.support.html import error_summary, parse
from tests.support.oidc_provider import CLIENT_ID, OTHER_CLIENT_ID
from tests.support.servers import free_port
from tests.support.staff import PASSWORD, csrf_from, make_staff, sign_in

SITE = "http://intake.test"
CASEY = {"email": "casey@example.org", "email_verified": True, "name": "Casey Intake"}


@pytest.fixture
def app_overrides(oidc_provider) -> dict:
    oidc_provider.set_site(SITE)
    oidc_provider.set_accounts({"sub-casey": CASEY})
    oidc_provider.tamper_next_token()  # nothing left over from another test
    return {**oidc_provider.app_settings(), "SITE_URL": SITE}


def leave_for_provider(client, *, start: str = "/staff/login", button: str | None = None):
    """Follow the provider's button on a staff page: the redirect to the provider."""
    button = button or "/staff/sign-in/provider"
    assert f'href="{button}' in client.get(start).get_data(as_text=True)
    response = client.get(button)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def sign_in_at_provider(browser: requests.Session, authorize_url: str, login: str) -> str:
    """The person at the provider's login page; returns the app's callback (path and query)."""
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200 and "Test provider sign-in" in page.text, page.text
    response = browser.post(
        page.url + "/login", data={"login": login}, allow_redirects=False, timeout=10
    )
    while not response.headers["Location"].startswith(SITE):
        response = browser.get(
            requests.compat.urljoin(response.url, response.headers["Location"]),
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code in (302, 303), response.text
    callback = urlsplit(response.headers["Location"])
    return f"{callback.path}?{callback.query}"


def provider_sign_in(client, login: str = "sub-casey", browser: requests.Session | None = None):
    callback = sign_in_at_provider(browser or requests.Session(), leave_for_provider(client), login)
    return client.get(callback)


def audit(db, action: AuditAction) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_whole_flow_links_by_verified_email_then_by_subject_only(app, db, oidc_provider):
    casey = make_staff(app, db, enrol=False)
    client = app.test_client()
    authorize = leave_for_provider(client)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["state"] and query["nonce"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{SITE}/staff/sign-in/callback"]

    response = client.get(sign_in_at_provider(requests.Session(), authorize, "sub-casey"))
    # No local code step: the provider's second factor replaces it.
    assert response.status_code == 303 and response.headers["Location"] == "/staff/queue"
    assert client.get("/staff/queue").status_code == 200
    db.refresh(casey)
    assert (casey.oidc_issuer, casey.oidc_subject) == (oidc_provider.issuer, "sub-casey")
    # One sign-in, one entry (the metrics count them).
    assert [e.detail for e in audit(db, AuditAction.SIGN_IN)] == [
        "through the identity provider; account linked by its verified e-mail"
    ]

    # A renamed e-mail at the provider: still Casey, found by subject alone.
    oidc_provider.set_accounts(
        {
            "sub-casey": {**CASEY, "email": "casey.renamed@example.org"},
            # Someone else now holds Casey's old address at the provider.
            "sub-other": {**CASEY, "name": "Someone Else"},
        }
    )
    assert provider_sign_in(app.test_client(), "sub-casey").status_code == 303
    refused = provider_sign_in(app.test_client(), "sub-other")
    assert refused.status_code == 403
    assert "No access to intake" in refused.get_data(as_text=True)
    failed = audit(db, AuditAction.SIGN_IN_FAILED)[-1]
    assert failed.staff_id is None
    assert "linked to another subject" in failed.detail and "example.org" not in failed.detail


def test_a_wrong_state_and_a_replayed_code_open_nothing(app, db, oidc_provider):
    make_staff(app, db, enrol=False)
    client = app.test_client()
    callback = sign_in_at_provider(requests.Session(), leave_for_provider(client), "sub-casey")
    code = parse_qs(urlsplit(callback).query)["code"][0]

    forged = client.get(f"/staff/sign-in/callback?code={code}&state=not-the-one")
    assert forged.status_code == 400
    assert "That sign-in did not work" in forged.get_data(as_text=True)
    assert client.get("/staff/queue").status_code == 302

    assert client.get(callback).status_code == 303  # the right state still works, once
    again = app.test_client()
    assert again.get(callback).status_code == 400  # its state belongs to another browser

    # The used code under a state of this browser's own: the provider will not take it twice.
    state = parse_qs(urlsplit(leave_for_provider(again)).query)["state"][0]
    replayed = again.get(f"/staff/sign-in/callback?code={code}&state={state}")
    assert replayed.status_code == 400
    assert again.get("/staff/queue").status_code == 302
    details = [e.detail for e in audit(db, AuditAction.SIGN_IN_FAILED)]
    assert details[0] == "identity provider answer refused: unknown or used state"
    assert details[-1].startswith("identity provider answer refused: ")
    assert len(details) == 3


@pytest.mark.parametrize(
    ("tamper", "kind", "error"),
    [
        # Not ours, and no authorized party naming us either.
        ({"aud": OTHER_CLIENT_ID}, "another audience", "MissingClaimError (azp)"),
        ({"exp_offset": -600}, "expired", "ExpiredTokenError (exp)"),
        ({"nonce": "another-sign-in"}, "another sign-in's nonce", "InvalidClaimError (nonce)"),
        ({"iss": "https://attacker.example"}, "another issuer", "InvalidClaimError (iss)"),
    ],
)
def test_an_id_token_for_another_audience_or_sign_in_or_expired_is_refused(
    app, db, oidc_provider, tamper, kind, error
):
    make_staff(app, db, enrol=False)
    client = app.test_client()
    callback = sign_in_at_provider(requests.Session(), leave_for_provider(client), "sub-casey")
    # Signed by the provider's own key, so only the claim itself can refuse it.
    oidc_provider.tamper_next_token(**tamper)
    response = client.get(callback)
    assert response.status_code == 400, kind
    assert client.get("/staff/queue").status_code == 302
    assert audit(db, AuditAction.SIGN_IN) == []
    # joserfc's error for the claim: the kind of failure, never the token.
    assert [e.detail for e in audit(db, AuditAction.SIGN_IN_FAILED)] == [
        f"identity provider answer refused: {error}"
    ]


def test_a_token_signed_again_with_only_harmless_changes_still_signs_in(app, db, oidc_provider):
    """The control of the test above: the re-signing itself is sound, so each refusal
    there is the claim's doing."""
    make_staff(app, db, enrol=False)
    client = app.test_client()
    callback = sign_in_at_provider(requests.Session(), leave_for_provider(client), "sub-casey")
    oidc_provider.tamper_next_token(name="Casey I.", exp_offset=300)
    assert client.get(callback).status_code == 303


def test_unknown_and_deactivated_accounts_get_no_access(app, db, oidc_provider):
    oidc_provider.set_accounts(
        {"sub-casey": CASEY, "sub-stranger": {**CASEY, "email": "stranger@example.org"}}
    )
    make_staff(app, db, enrol=False)
    stranger = provider_sign_in(app.test_client(), "sub-stranger")
    assert stranger.status_code == 403
    page = stranger.get_data(as_text=True)
    assert "No access to intake" in page and "stranger@example.org" not in page
    unknown = audit(db, AuditAction.SIGN_IN_FAILED)[-1]
    assert unknown.detail.startswith("identity provider: no account here; subject hash ")
    assert "stranger" not in unknown.detail

    client = app.test_client()
    assert provider_sign_in(client).status_code == 303
    db.rollback()
    staff_accounts.deactivate_staff(db, email="casey@example.org")
    db.commit()
    # Ends at once, although the provider would still say yes.
    assert client.get("/staff/queue").status_code == 302
    again = provider_sign_in(app.test_client())
    assert again.status_code == 403
    assert again.get_data(as_text=True) == stranger.get_data(as_text=True)
    assert audit(db, AuditAction.SIGN_IN_FAILED)[-1].detail == (
        "identity provider: account deactivated"
    )


def test_local_passwords_only_for_break_glass_and_the_provider_down(app, db, database_url):
    make_staff(app, db)
    refused = sign_in(app.test_client())
    assert refused.status_code == 200
    assert "The password form is only for emergency accounts" in refused.get_data(as_text=True)
    assert audit(db, AuditAction.SIGN_IN_FAILED)[-1].detail == (
        "local password refused: identity provider only"
    )
    db.rollback()
    # Someone holding an old password cannot tell from the page that it is still right.
    wrong = sign_in(app.test_client(), password="not the password at all")
    assert wrong.status_code == 200
    assert error_summary(wrong) == error_summary(refused) != {}
    keeper = make_staff(app, db, email="first.admin@example.org", role=StaffRole.ADMIN)
    keeper.local_sign_in = True
    db.commit()

    down = make_test_app(
        database_url,
        OIDC_ISSUER=f"http://127.0.0.1:{free_port()}",
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET="x",
        SITE_URL=SITE,
    )
    client = down.test_client()
    login = client.get("/staff/login").get_data(as_text=True)
    assert "Emergency sign-in" in login
    response = client.get("/staff/sign-in/provider")
    assert response.status_code == 503
    assert "The hospital's sign-in is not answering" in response.get_data(as_text=True)
    assert sign_in(client, "first.admin@example.org", PASSWORD).status_code == 303
    assert client.get("/staff/queue").status_code == 200


def test_a_fresh_proof_before_an_export_goes_through_the_provider_again(app, db, oidc_provider):
    make_staff(app, db, role=StaffRole.ADMIN, enrol=False)
    client, browser = app.test_client(), requests.Session()
    assert provider_sign_in(client, browser=browser).status_code == 303
    with client.session_transaction() as session:
        session["staff_proved"] -= 3600
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    export = client.post(
        "/staff/export.csv", data={"csrf_token": token}, headers={"Referer": "/staff/queue"}
    )
    assert export.status_code == 303 and "/staff/confirm" in export.headers["Location"]
    confirm = client.get(export.headers["Location"]).get_data(as_text=True)
    assert "Confirm with" in confirm and 'name="secret"' not in confirm

    authorize = leave_for_provider(
        client, start=export.headers["Location"], button="/staff/confirm/provider"
    )
    query = parse_qs(urlsplit(authorize).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    # The provider asks again although this browser is signed in there.
    back = client.get(sign_in_at_provider(browser, authorize, "sub-casey"))
    assert back.status_code == 303
    assert audit(db, AuditAction.PROOF_CONFIRMED)[-1].detail == "identity provider"
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    assert client.post("/staff/export.csv", data={"csrf_token": token}).status_code == 200

    # Someone else signing in at the provider is no proof that it is Casey.
    oidc_provider.set_accounts({"sub-casey": CASEY, "sub-other": {"email": "o@example.org"}})
    with client.session_transaction() as session:
        session["staff_proved"] -= 3600
    authorize = leave_for_provider(client, start="/staff/confirm", button="/staff/confirm/provider")
    other = client.get(sign_in_at_provider(requests.Session(), authorize, "sub-other"))
    assert other.status_code == 403
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    assert client.post("/staff/export.csv", data={"csrf_token": token}).status_code == 303


def test_a_required_second_factor_and_groups_that_create_accounts(
    app, db, database_url, oidc_provider
):
    strict = make_test_app(
        database_url,
        **oidc_provider.app_settings(),
        SITE_URL=SITE,
        OIDC_REQUIRED_AMR="mfa,hwk",
        OIDC_GROUP_ROLES="intake-team=intake, intake-admins=admin",
    )
    newcomer = {"email": "new@example.org", "email_verified": True, "name": "New Person"}
    oidc_provider.set_accounts(
        {
            "sub-casey": CASEY,
            "sub-new": {**newcomer, "groups": ["intake-admins", "x"], "amr": ["pwd", "mfa"]},
            "sub-nogroup": {**newcomer, "email": "n@example.org", "amr": ["mfa"]},
        }
    )
    make_staff(app, db, enrol=False)
    without = provider_sign_in(strict.test_client())
    assert without.status_code == 403
    assert "Sign in with your second factor" in without.get_data(as_text=True)
    assert audit(db, AuditAction.SIGN_IN_FAILED)[-1].detail.startswith(
        "identity provider: no second factor asserted (amr/acr)"
    )

    assert provider_sign_in(strict.test_client(), "sub-new").status_code == 303
    db.rollback()
    created = db.scalar(select(StaffUser).where(StaffUser.email == "new@example.org"))
    assert (created.role, created.oidc_subject, created.local_sign_in) == (
        StaffRole.ADMIN,
        "sub-new",
        False,
    )
    assert audit(db, AuditAction.ACCOUNT_CREATED)[-1].staff_id == created.id
    # The groups keep deciding: another group, another role; none, no access.
    oidc_provider.set_accounts({"sub-new": {**newcomer, "groups": ["intake-team"], "amr": ["mfa"]}})
    assert provider_sign_in(strict.test_client(), "sub-new").status_code == 303
    db.rollback()
    db.refresh(created)
    assert created.role == StaffRole.INTAKE
    assert audit(db, AuditAction.ROLE_CHANGED)[-1].to_value == "intake"
    oidc_provider.set_accounts(
        {
            "sub-new": {**newcomer, "groups": ["x"], "amr": ["mfa"]},
            "sub-nogroup": {**newcomer, "email": "n@example.org", "amr": ["mfa"]},
        }
    )
    assert provider_sign_in(strict.test_client(), "sub-new").status_code == 403
    assert audit(db, AuditAction.SIGN_IN_FAILED)[-1].detail == (
        "identity provider: no mapped provider group any more"
    )
    # No mapped group: no account, as without the setting.
    assert provider_sign_in(strict.test_client(), "sub-nogroup").status_code == 403
    # Without the setting (the default), the same person gets no account either.
    assert provider_sign_in(app.test_client(), "sub-nogroup").status_code == 403


def test_sign_out_ends_the_session_and_offers_the_providers(app, db, oidc_provider):
    make_staff(app, db, enrol=False)
    client = app.test_client()
    assert provider_sign_in(client).status_code == 303
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    page = client.post("/staff/logout", data={"csrf_token": token})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "You are signed out of intake" in html
    link = html.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    assert link.startswith(oidc_provider.issuer)
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["post_logout_redirect_uri"] == [f"{SITE}/staff/login"]
    assert client.get("/staff/queue").status_code == 302
    assert requests.get(link, timeout=10).status_code == 200  # the provider's own page


def test_a_provider_session_keeps_the_idle_and_absolute_limits(app, db):
    make_staff(app, db, enrol=False)
    client = app.test_client()
    assert provider_sign_in(client).status_code == 303
    with client.session_transaction() as session:
        session["staff_started"] -= app.config["STAFF_SESSION_HOURS"] * 3600 + 60
    assert client.get("/staff/queue").status_code == 302
    assert provider_sign_in(client).status_code == 303
    with client.session_transaction() as session:
        session["staff_seen"] -= app.config["STAFF_IDLE_MINUTES"] * 60 + 60
    assert client.get("/staff/queue").status_code == 302
    assert len(audit(db, AuditAction.SESSION_EXPIRED)) == 1


def test_nothing_of_the_protocol_reaches_the_logs(app, db, caplog):
    make_staff(app, db, enrol=False)
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    callback = sign_in_at_provider(requests.Session(), leave_for_provider(client), "sub-casey")
    client.get(callback.replace("state=", "state=x"))
    client.get(callback)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in (code, "sub-casey", "casey@example.org", "Casey Intake", "verifier"):
        assert secret not in logged
    # A token: a JWT's header and claims, both base64url JSON (a bare "eyJ" also turns up
    # by chance inside the random state and nonce of the test's own provider requests).
    assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.", logged)


def test_an_admin_adds_an_account_that_its_owner_opens_through_the_provider(app, db, oidc_provider):
    oidc_provider.set_accounts(
        {
            "sub-casey": CASEY,
            "sub-noor": {"email": "Noor@Example.org", "email_verified": True, "name": "Noor"},
        }
    )
    make_staff(app, db, role=StaffRole.ADMIN, enrol=False)
    admin = app.test_client()
    assert provider_sign_in(admin).status_code == 303
    page = admin.get("/staff/accounts/new").get_data(as_text=True)
    made = admin.post(
        "/staff/accounts/new",
        data={
            "email": "noor@example.org",
            "name": "Noor Haddad",
            "role": "intake",
            "csrf_token": csrf_from(page),
        },
    )
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    assert "Account made for Noor Haddad" in html and "set-up-link" not in html
    assert provider_sign_in(app.test_client(), "sub-noor").status_code == 303
    db.rollback()
    noor = db.scalar(select(StaffUser).where(StaffUser.email == "noor@example.org"))
    assert (noor.oidc_subject, noor.local_sign_in) == ("sub-noor", False)


def test_an_account_page_says_how_its_owner_signs_in_and_offers_no_useless_link(
    app, db, oidc_provider
):
    oidc_provider.set_accounts(
        {
            "sub-casey": CASEY,
            "sub-admin": {"email": "ada@example.org", "email_verified": True, "name": "Ada"},
        }
    )
    make_staff(app, db, email="ada@example.org", role=StaffRole.ADMIN, enrol=False)
    casey = make_staff(app, db, enrol=False)
    keeper = make_staff(app, db, email="keeper@example.org", role=StaffRole.ADMIN)
    keeper.local_sign_in = True
    db.commit()
    admin = app.test_client()
    assert provider_sign_in(admin, "sub-admin").status_code == 303

    page = parse(admin.get(f"/staff/accounts/{casey.id}"))
    assert "Not linked yet" in page.select_one("[data-hospital-link]").get_text()
    assert "Not used" in page.select_one("[data-local-sign-in]").get_text()
    assert not page.select("form[action$='/link'], form[action$='/reset-second-factor']")
    assert provider_sign_in(app.test_client(), "sub-casey").status_code == 303
    page = parse(admin.get(f"/staff/accounts/{casey.id}"))
    assert "Linked to their hospital account" in page.select_one("[data-hospital-link]").get_text()

    # Posted anyway (an old page, a crafted form): refused, nothing issued.
    token = csrf_from(admin.get(f"/staff/accounts/{casey.id}").get_data(as_text=True))
    for action in ("link", "reset-second-factor"):
        refused = admin.post(f"/staff/accounts/{casey.id}/{action}", data={"csrf_token": token})
        assert refused.status_code == 303
        shown = admin.get(refused.headers["Location"]).get_data(as_text=True)
        assert "there is nothing to set up here" in shown
    assert audit(db, AuditAction.ACCOUNT_LINK_ISSUED) == []
    assert audit(db, AuditAction.SECOND_FACTOR_RESET) == []

    # The emergency account keeps its password, its app and its set-up links.
    page = parse(admin.get(f"/staff/accounts/{keeper.id}"))
    assert "Kept for emergency sign-in" in page.select_one("[data-local-sign-in]").get_text()
    assert page.select("form[action$='/link']")


def test_an_admin_unlinks_an_account_whose_hospital_account_was_made_again(app, db, oidc_provider):
    ada = {"email": "ada@example.org", "email_verified": True, "name": "Ada"}
    oidc_provider.set_accounts({"sub-casey": CASEY, "sub-admin": ada})
    make_staff(app, db, email="ada@example.org", role=StaffRole.ADMIN, enrol=False)
    casey = make_staff(app, db, enrol=False)
    casey_browser = app.test_client()
    assert provider_sign_in(casey_browser, "sub-casey").status_code == 303
    # The hospital re-made Casey's account: a new subject with the same e-mail.
    oidc_provider.set_accounts({"sub-casey-2": CASEY, "sub-admin": ada})
    assert provider_sign_in(app.test_client(), "sub-casey-2").status_code == 403

    admin = app.test_client()
    assert provider_sign_in(admin, "sub-admin").status_code == 303
    page = admin.get(f"/staff/accounts/{casey.id}").get_data(as_text=True)
    assert "Unlink from their hospital account" in page
    done = admin.post(
        f"/staff/accounts/{casey.id}/unlink-provider", data={"csrf_token": csrf_from(page)}
    )
    assert done.status_code == 303
    assert "no longer linked" in admin.get(done.headers["Location"]).get_data(as_text=True)
    [entry] = audit(db, AuditAction.PROVIDER_UNLINKED)
    assert entry.detail == "account casey@example.org" and entry.staff_id != casey.id
    # Signed out everywhere; the next sign-in links the new hospital account.
    assert casey_browser.get("/staff/queue").status_code == 302
    assert provider_sign_in(app.test_client(), "sub-casey-2").status_code == 303
    db.rollback()
    db.refresh(casey)
    assert casey.oidc_subject == "sub-casey-2"
    # Nothing to unlink on an account that is not linked: refused, nothing recorded.
    noor = make_staff(app, db, email="noor@example.org", enrol=False)
    page = admin.get(f"/staff/accounts/{noor.id}").get_data(as_text=True)
    assert "Unlink from their hospital account" not in page
    refused = admin.post(
        f"/staff/accounts/{noor.id}/unlink-provider", data={"csrf_token": csrf_from(page)}
    )
    shown = admin.get(refused.headers["Location"]).get_data(as_text=True)
    assert "is not linked to a hospital account" in shown
    assert len(audit(db, AuditAction.PROVIDER_UNLINKED)) == 1


def test_signing_out_at_the_provider_ends_the_session_here_at_once(app, db, oidc_provider):
    casey = make_staff(app, db, enrol=False)
    make_staff(app, db, email="ada@example.org", enrol=False)
    oidc_provider.set_accounts(
        {"sub-casey": CASEY, "sub-ada": {"email": "ada@example.org", "email_verified": True}}
    )
    casey_browser, ada_browser = app.test_client(), app.test_client()
    assert provider_sign_in(casey_browser, "sub-casey").status_code == 303
    assert provider_sign_in(ada_browser, "sub-ada").status_code == 303
    server = app.test_client()  # the provider, posting: no cookie, no CSRF token
    url = "/staff/sign-in/backchannel-logout"

    # Tokens that must not sign anyone out: another client's; signed by the provider but
    # not logout tokens (no logout event; a nonce, as an ID token has); claims changed
    # after signing; garbage; none.
    other = oidc_provider.logout_token("sub-casey", client_id=OTHER_CLIENT_ID)
    assert server.post(url, data={"logout_token": other}).status_code == 400
    for changes in ({"events": False}, {"nonce": "n-0S6_WzA2Mj"}):
        token = oidc_provider.logout_token("sub-casey", **changes)
        assert server.post(url, data={"logout_token": token}).status_code == 400
    header, _, signature = other.split(".")
    forged = ".".join([header, "eyJzdWIiOiJzdWItY2FzZXkifQ", signature])
    assert server.post(url, data={"logout_token": forged}).status_code == 400
    assert server.post(url, data={"logout_token": "not-a-token"}).status_code == 400
    assert server.post(url, data={}).status_code == 400
    assert casey_browser.get("/staff/queue").status_code == 200

    answer = server.post(url, data={"logout_token": oidc_provider.logout_token("sub-casey")})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert casey_browser.get("/staff/queue").status_code == 302
    assert ada_browser.get("/staff/queue").status_code == 200
    [entry] = audit(db, AuditAction.SESSIONS_ENDED)
    assert entry.detail == (
        "account casey@example.org via the identity provider's back-channel logout"
    )
    # A subject with no account here: the same answer, nothing recorded.
    nobody = oidc_provider.logout_token("sub-nobody")
    assert server.post(url, data={"logout_token": nobody}).status_code == 200
    assert len(audit(db, AuditAction.SESSIONS_ENDED)) == 1
    # Casey signs in again as usual.
    assert provider_sign_in(app.test_client(), "sub-casey").status_code == 303
    assert casey.id


def test_a_rotated_provider_key_is_fetched_again_at_most_once_a_minute(
    app, oidc_provider, monkeypatch
):
    from joserfc.jwk import RSAKey

    from app.auth import provider

    token = oidc_provider.logout_token("sub-casey")
    with app.test_request_context():
        client = provider._client()
        current = client.fetch_jwk_set(force=True)
        # What we held before the provider rotated its key: a key it no longer signs with.
        old = RSAKey.generate_key(2048, parameters={"kid": "retired"}, private=False)
        fetched: list[bool] = []

        def fetch_jwk_set(force=False):
            fetched.append(force)
            return current if force else {"keys": [old.as_dict()]}

        monkeypatch.setattr(client, "fetch_jwk_set", fetch_jwk_set)
        monkeypatch.setattr(provider, "_KEYS_REFETCHED_AT", [0.0])
        assert provider.logout_subject(token)[1] == "sub-casey"
        assert fetched == [False, True]
        # Within the minute, another unknown key fetches nothing more: refused.
        fetched.clear()
        with pytest.raises(provider.ProviderRefused):
            provider.logout_subject(token)
        assert fetched == [False]


def test_a_mistyped_group_mapping_stops_the_app_at_start(database_url, oidc_provider):
    from config import ConfigError

    with pytest.raises(ConfigError, match="OIDC_GROUP_ROLES: 'intake-team=nurse'"):
        make_test_app(
            database_url, **oidc_provider.app_settings(), OIDC_GROUP_ROLES="intake-team=nurse"
        )
