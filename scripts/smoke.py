"""What a newcomer does after `make run`, done by a script: open the pages, then send one
request through the journey's steps as a browser would (cookie, CSRF token, one page at a
time, "Check your answers", send) and read the confirmation.

    python scripts/smoke.py http://127.0.0.1:8000

Exits 0 when every step worked; otherwise prints the step that failed and exits 1.
Standard library only, apart from the answers the test suite also uses.
"""

from __future__ import annotations

import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.forms import FORM_URL, SEND_URL, valid_answers, walk  # noqa: E402


class SmokeFailure(Exception):
    pass


def main(base: str) -> int:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def fetch(path: str, data: dict | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with opener.open(base + path, data=body, timeout=30) as response:
                return response.status, response.geturl(), response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode(errors="replace")

    def expect(path: str, status: int, text: str) -> str:
        got, _, page = fetch(path)
        if got != status or text not in page:
            raise SmokeFailure(f"GET {path}: expected {status} with {text!r}, got {got}")
        print(f"ok   GET {path} -> {got}")
        return page

    try:
        expect("/", 200, "metastatic")
        # The Spanish page: its catalog is compiled by `make install`, not committed.
        expect("/es/", 200, "metastásico")
        expect("/healthz", 200, "ok")
        expect("/readyz", 200, "at head")
        expect("/favicon.ico", 200, "")
        expect(FORM_URL, 200, "<form")
        landed_at = []

        def request(method: str, path: str, data: dict | None) -> tuple[int, dict, str]:
            # urllib follows each redirect itself: the walk sees the page it leads to.
            status, landed, page = fetch(path, data if method == "POST" else None)
            landed_at.append(landed)
            return status, {}, page

        status, _, page = walk(request, valid_answers())
        landed = landed_at[-1]
        reference = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", page)
        if status != 200 or "/received/" not in landed or not reference:
            raise SmokeFailure(
                f"POST {SEND_URL}: expected the confirmation with a reference, got {status} "
                f"at {urllib.parse.urlsplit(landed).path}"
            )
        print(
            f"ok   the journey's steps and POST {SEND_URL} -> confirmation with reference "
            f"{reference.group(0)}"
        )
    except (SmokeFailure, OSError) as error:
        print(f"FAIL {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
