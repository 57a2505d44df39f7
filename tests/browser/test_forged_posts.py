"""Another site's page cannot make a visitor's browser begin a request. The journey's first
page carries no token; a real Chromium says where its post came from (Sec-Fetch-Site), and
the site refuses one from any other site (app/serving/cross_origin.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.browser

# Another loopback address: another site to the browser, on this machine.
OTHER_HOST = "127.0.0.2"


@pytest.fixture
def other_site(live_server) -> Iterator[str]:
    page = (
        "<!doctype html><html lang=en><title>Another site</title><main>"
        f'<form method="post" action="{live_server.url}/request-appointment/who">'
        '<input type="hidden" name="submitter" value="someone_else">'
        '<input type="hidden" name="submitter_name" value="Planted by another site">'
        "<button>Win a prize</button></form></main></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((OTHER_HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{OTHER_HOST}:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_sites_form_cannot_begin_a_request(page, other_site):
    page.goto(other_site)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Win a prize").click()
    assert navigation.value.status == 400
    assert page.get_by_role("heading", level=1).inner_text() == "Your form could not be sent"
    # Nothing was begun in this browser: its first page is still blank.
    page.goto("/request-appointment")
    assert page.locator("[name=submitter_name]").input_value() == ""
    assert not page.locator("[name=submitter][value=someone_else]").is_checked()
    assert "Planted by another site" not in page.content()


def test_the_sites_own_first_page_begins_a_request(page):
    page.goto("/request-appointment")
    page.locator("[name=submitter][value=patient]").check()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Continue").click()
    assert navigation.value.status == 200
    assert page.url.endswith("/request-appointment/patient")
    # From here on every page carries the token of this browser's session.
    assert page.locator("[name=csrf_token]").count() == 1
