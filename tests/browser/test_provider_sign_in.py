"""Staff sign-in through the hospital's identity provider in Chromium (issue 32): the
button, the provider's own login page (a real oidc-provider), the queue, and sign-out
with the provider's end-session. The protocol's failures are covered without a browser
in tests/auth/test_provider_sign_in.py."""

from __future__ import annotations

import pytest

from tests.browser.staff_support import StaffAccount, create_staff
from tests.browser.support import ConsoleWatch, assert_accessible, docs_screenshot
from tests.support.live_server import start_live_server

pytestmark = pytest.mark.browser

CASEY = StaffAccount(email="casey.provider@example.org", name="Casey Provider")


@pytest.fixture(scope="module")
def provider_server(chromium_path, oidc_provider, tmp_path_factory):
    """A server of its own: the shared one runs without a provider, as by default."""

    def settings(url: str) -> dict[str, str]:
        oidc_provider.set_site(url)
        return {**oidc_provider.app_settings(), "SITE_URL": url}

    server = start_live_server(tmp_path_factory.mktemp("provider-server"), extra_env=settings)
    create_staff(server, CASEY)
    yield server
    server.stop()


def test_a_coordinator_signs_in_and_out_through_the_hospitals_provider(
    browser, provider_server, oidc_provider
):
    oidc_provider.set_accounts(
        {"sub-casey": {"email": CASEY.email, "email_verified": True, "name": CASEY.name}}
    )
    context = browser.new_context(
        base_url=provider_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = ConsoleWatch(page)
    try:
        page.goto("/staff/login")
        assert page.get_by_role("heading", name="Emergency sign-in").is_visible()
        assert_accessible(page, "sign-in with the provider's button")
        docs_screenshot(page, "staff-sign-in-provider")
        page.get_by_role("link", name="Sign in with your Moffitt account").click()

        page.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
        page.get_by_label("Account").fill("sub-casey")
        page.get_by_role("button", name="Sign in to the test provider").click()

        page.wait_for_url("**/staff/queue")
        assert page.get_by_role("heading", level=1).first.is_visible()
        assert "Casey Provider" in page.content()

        page.get_by_role("button", name="Sign out").click()
        assert page.get_by_role("heading", name="You are signed out of intake").is_visible()
        assert_accessible(page, "signed out, the provider's sign-out offered")
        page.get_by_role("link", name="Sign out of the hospital's account too").click()
        # The provider's own page asks to confirm, then sends the person back here.
        page.wait_for_url(f"{oidc_provider.issuer}/**")
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url("**/staff/login**")
        page.goto("/staff/queue")
        page.wait_for_url("**/staff/login**")
        assert not watch.problems, watch.problems
    finally:
        context.close()
    log = provider_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert "sub-casey" not in log and CASEY.email not in log
