"""The hospital's OpenID Connect provider, spoken to through Authlib (issue 32).

Only the protocol lives here: discovery from ``<OIDC_ISSUER>/.well-known/openid-configuration``,
the authorization code flow with PKCE (S256), ``state`` and ``nonce`` kept in the signed
session cookie by Authlib and used once, and the ID token's signature checked against the
provider's published keys (fetched again when a token names a key not seen yet), with
its issuer, audience, expiry and nonce. Who may then come in is
app/accounts/provider_accounts.py's decision.

Authlib (with joserfc, cryptography and requests under it) is imported only by an app
with OIDC_ISSUER set: the other workers never carry it (tests/test_lazy_imports.py).

Nothing from the protocol is logged: not the code, a token, the PKCE verifier (Authlib
logs it at debug level, so its logger is held at WARNING) nor a claim. Errors name their
kind only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Flask, current_app, request, session, url_for

from app.accounts.provider_accounts import ProviderIdentity, parse_group_roles

NAME = "hospital"
# What a provider may sign its tokens with: never "none", never a symmetric key (the
# client secret would then sign them).
_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
EXTENSION = "oidc_provider"
GROUP_ROLES = "oidc_group_roles"
# What the browser keeps while it is at the provider (removed when it comes back).
PURPOSE = "provider_purpose"
NEXT = "provider_next"
ASKED_AT = "provider_asked_at"
SIGN_IN, PROOF = "sign_in", "proof"


class ProviderUnavailable(Exception):
    """The provider did not answer (down, unreachable, too slow, or not OpenID)."""


class ProviderRefused(Exception):
    """The provider's answer proves nobody: a wrong or used ``state``, a code it would
    not exchange, a token with a bad signature, issuer, audience, nonce or expiry. The
    message is the failure's kind, safe for the audit trail."""


@dataclass(frozen=True)
class Answer:
    identity: ProviderIdentity
    purpose: str
    next_url: str | None
    # When this browser left for the provider, and when the provider last checked the
    # person's credentials (``auth_time``): a fresh proof needs the second after the first.
    asked_at: int | None
    auth_time: int | None


def enabled() -> bool:
    return bool(current_app.config.get("OIDC_ISSUER"))


def init_provider(state) -> None:
    """Registered on the auth blueprint: the client, when OIDC_ISSUER is set."""
    app: Flask = state.app
    config = app.config
    if not config.get("OIDC_ISSUER"):
        return
    from authlib.integrations.flask_client import OAuth

    logging.getLogger("authlib").setLevel(logging.WARNING)
    # A mistyped mapping stops the app at start, not at someone's first sign-in.
    app.extensions[GROUP_ROLES] = parse_group_roles(config["OIDC_GROUP_ROLES"])
    oauth = OAuth(app)
    app.extensions[EXTENSION] = oauth.register(
        NAME,
        client_id=config["OIDC_CLIENT_ID"],
        client_secret=config["OIDC_CLIENT_SECRET"],
        server_metadata_url=issuer(config) + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": config["OIDC_SCOPES"],
            "code_challenge_method": "S256",
            "default_timeout": config["OIDC_TIMEOUT_SECONDS"],
        },
    )


def issuer(config) -> str:
    return str(config["OIDC_ISSUER"]).rstrip("/")


def _client():
    return current_app.extensions[EXTENSION]


def _metadata() -> dict:
    """The provider's discovery document; its issuer must be the one configured (an
    answer from another issuer is a mix-up, not a provider)."""
    import requests

    try:
        metadata = _client().load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(type(error).__name__) from None
    if str(metadata.get("issuer", "")).rstrip("/") != issuer(current_app.config):
        raise ProviderUnavailable("discovery names another issuer")
    return metadata


def redirect_uri() -> str:
    """The one address to register at the provider: ``<SITE_URL>/staff/sign-in/callback``."""
    path = url_for("auth.provider_callback")[len(request.script_root) :]
    return current_app.config["SITE_URL"].rstrip("/") + path


def start(purpose: str, next_url: str | None):
    """A redirect to the provider. A proof of identity asks it to check the person again
    now (``prompt=login``, ``max_age=0``), whatever session it has."""
    import requests

    _metadata()
    extra = {"prompt": "login", "max_age": 0} if purpose == PROOF else {}
    try:
        response = _client().authorize_redirect(redirect_uri(), **extra)
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(type(error).__name__) from None
    session[PURPOSE] = purpose
    session[NEXT] = next_url or ""
    session[ASKED_AT] = int(time.time())
    return response


def finish() -> Answer:
    """The provider's answer on the callback: the code exchanged (with the PKCE verifier)
    and the ID token verified. Raises ProviderUnavailable or ProviderRefused."""
    import requests
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.base_client import MismatchingStateError
    from joserfc.errors import JoseError

    purpose = session.pop(PURPOSE, None)
    next_url = session.pop(NEXT, None) or None
    asked_at = session.pop(ASKED_AT, None)
    metadata = _metadata()
    options = {
        "iss": {"essential": True, "values": [metadata["issuer"]]},
        "sub": {"essential": True},
    }
    if purpose == PROOF:
        options["auth_time"] = {"essential": True}
    try:
        token = _client().authorize_access_token(
            claims_options=options, leeway=current_app.config["OIDC_CLOCK_SKEW_SECONDS"]
        )
    except MismatchingStateError:
        raise ProviderRefused("unknown or used state") from None
    except requests.RequestException as error:
        raise ProviderUnavailable(type(error).__name__) from None
    except (AuthlibBaseError, JoseError, ValueError, KeyError, TypeError) as error:
        # The kind of failure and the claim's name (joserfc's claim errors), never a value.
        claim = getattr(error, "claim", None)
        kind = type(error).__name__ + (f" ({claim})" if isinstance(claim, str) else "")
        raise ProviderRefused(kind) from None
    claims = token.get("userinfo")
    if not claims:
        raise ProviderRefused("no ID token")
    return Answer(
        identity=identity_from(claims, metadata["issuer"]),
        purpose=purpose if purpose in (SIGN_IN, PROOF) else SIGN_IN,
        next_url=next_url if isinstance(next_url, str) else None,
        asked_at=asked_at if isinstance(asked_at, int) else None,
        auth_time=claims.get("auth_time") if isinstance(claims.get("auth_time"), int) else None,
    )


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_subject(logout_token: str) -> tuple[str, str]:
    """The (issuer, subject) a back-channel logout token from the provider signs out
    (OpenID Connect Back-Channel Logout 1.0, section 2.6): signed with the provider's
    keys, for this client, with a ``jti``, an ``iat``, the logout event, no ``nonce`` and a
    ``sub`` (sessions here are per account, not per provider session, so a ``sid`` alone
    names nothing here). Raises ProviderUnavailable or ProviderRefused."""
    import requests
    from joserfc import jwt
    from joserfc.errors import JoseError

    metadata = _metadata()
    config = current_app.config
    try:
        token = _decode_with_provider_keys(logout_token)
        jwt.JWTClaimsRegistry(
            leeway=config["OIDC_CLOCK_SKEW_SECONDS"],
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": config["OIDC_CLIENT_ID"]},
            iat={"essential": True},
            jti={"essential": True},
            sub={"essential": True},
        ).validate(token.claims)
    except requests.RequestException as error:
        raise ProviderUnavailable(type(error).__name__) from None
    except (JoseError, ValueError, KeyError, TypeError) as error:
        claim = getattr(error, "claim", None)
        kind = type(error).__name__ + (f" ({claim})" if isinstance(claim, str) else "")
        raise ProviderRefused(kind) from None
    claims = token.claims
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise ProviderRefused("not a logout token (events)")
    if "nonce" in claims:
        # An ID token carries a nonce; a logout token must not (section 2.4).
        raise ProviderRefused("not a logout token (nonce)")
    return str(metadata["issuer"]), str(claims["sub"])


# When the provider's keys were last fetched again for a kid we did not know: a rotated
# key is picked up, but posts with made-up kids cannot make us fetch more than once a
# minute.
_KEYS_REFETCHED_AT = [0.0]
_REFETCH_EVERY_SECONDS = 60


def _decode_with_provider_keys(value: str):
    from joserfc import jwt
    from joserfc.errors import InvalidKeyIdError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(_client().fetch_jwk_set())
        return jwt.decode(value, keys, algorithms=_ALGORITHMS)
    except InvalidKeyIdError:
        if time.monotonic() - _KEYS_REFETCHED_AT[0] < _REFETCH_EVERY_SECONDS:
            raise
        _KEYS_REFETCHED_AT[0] = time.monotonic()
        keys = KeySet.import_key_set(_client().fetch_jwk_set(force=True))
        return jwt.decode(value, keys, algorithms=_ALGORITHMS)


def identity_from(claims, token_issuer: str) -> ProviderIdentity:
    config = current_app.config
    email = claims.get("email")
    # Entra ID sends no email_verified: xms_edov says the domain's owner vouches for it.
    verified = claims.get("email_verified") is True or claims.get("xms_edov") is True
    groups = claims.get(config["OIDC_GROUPS_CLAIM"])
    amr = claims.get("amr")
    return ProviderIdentity(
        issuer=token_issuer,
        subject=str(claims["sub"]),
        verified_email=email.strip().lower() if verified and isinstance(email, str) else None,
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        amr=tuple(a for a in amr if isinstance(a, str)) if isinstance(amr, list) else (),
        acr=claims.get("acr") if isinstance(claims.get("acr"), str) else None,
    )


def end_session_url() -> str | None:
    """The provider's sign-out page (RP-initiated logout), back to our sign-in page
    after; None when the provider has none or does not answer."""
    try:
        metadata = _metadata()
    except ProviderUnavailable:
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    back = (
        current_app.config["SITE_URL"].rstrip("/")
        + url_for("auth.login")[len(request.script_root) :]
    )
    return _client().create_logout_url(
        post_logout_redirect_uri=back, client_id=current_app.config["OIDC_CLIENT_ID"]
    )["url"]


def split_setting(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())
