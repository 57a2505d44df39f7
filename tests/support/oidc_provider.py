"""The real OpenID provider the staff sign-in tests use: oidc-provider (npm, OpenID
Certified), run by tests/support/oidc/provider.mjs in Node, started once per test
session (``oidc_provider`` in tests/conftest.py). `make test` installs it
(`make oidc-provider`: npm ci from the committed lock file).

The test decides the provider's accounts and clients through its /test-admin/ endpoints;
nothing of the protocol is faked: discovery, the login page, codes, PKCE, signed ID
tokens and the keys are oidc-provider's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "intake"
CLIENT_SECRET = "intake-test-secret"  # noqa: S105 (a test client's)
OTHER_CLIENT_ID = "another-app"


@dataclass
class OpenIDProvider:
    issuer: str
    process: subprocess.Popen

    def _post(self, path: str, body) -> None:
        request = urllib.request.Request(
            self.issuer + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            assert response.status == 204

    def set_accounts(self, accounts: dict[str, dict]) -> None:
        """The provider's accounts by subject: email, email_verified, name, groups, amr, acr."""
        self._post("/test-admin/accounts", accounts)

    def set_site(self, site_url: str) -> None:
        """Registers the app's client for a site: its callback and sign-out addresses."""
        site = site_url.rstrip("/")
        client = {
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{site}/staff/sign-in/callback"],
            "post_logout_redirect_uris": [f"{site}/staff/login"],
            "backchannel_logout_uri": f"{site}/staff/sign-in/backchannel-logout",
            "backchannel_logout_session_required": False,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
        self._post(
            "/test-admin/clients",
            [{**client, "client_id": CLIENT_ID}, {**client, "client_id": OTHER_CLIENT_ID}],
        )

    def logout_token(self, sub: str, client_id: str = CLIENT_ID, **changes) -> str:
        """The back-channel logout token the provider would post to the client when
        ``sub`` signs out there (or is removed), signed with its own key; ``events=False``
        or a ``nonce`` make one that is not a logout token."""
        request = urllib.request.Request(
            self.issuer + "/test-admin/logout-token",
            data=json.dumps({"client_id": client_id, "sub": sub, **changes}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return json.load(response)["logout_token"]

    def tamper_next_token(self, **changes) -> None:
        """The next ID token is signed again by the provider with these changes: claims
        replaced (``aud``, ``nonce``, ``iss``...), or ``exp_offset`` seconds from now."""
        self._post("/test-admin/tamper", changes)

    def app_settings(self) -> dict:
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_SCOPES": "openid email profile groups",
            "OIDC_BUTTON_LABEL": "Sign in with your Moffitt account",
        }


@contextmanager
def openid_provider(log_path: Path) -> Iterator[OpenIDProvider]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("the test OpenID provider is not installed: run `make oidc-provider`")
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(  # noqa: S603
            [node, str(HERE / "provider.mjs")],
            env={**os.environ, "PORT": str(port), "NODE_ENV": "test"},
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            line = process.stdout.readline()
            if not line.startswith("ready "):
                raise RuntimeError(f"the test OpenID provider did not start: see {log_path}")
            yield OpenIDProvider(issuer=line.split()[1], process=process)
        finally:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()
