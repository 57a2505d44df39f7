"""Driving the cluster through nginx the way browsers do, and finding out which host
answered (nginx's access log names the host for each request id)."""

from __future__ import annotations

import http.client
import re
import struct
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')
RECEIVED = re.compile(r"/request-appointment/received/([A-Z0-9]+)$")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def request_id(self) -> str:
        return self.headers.get("x-request-id", "")


@dataclass
class Browser:
    """One browser: its own cookie jar, connecting from its own loopback address (all of
    127.0.0.0/8 is this machine), so nginx sees a different client for each browser."""

    port: int
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0

    def request(
        self, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ) -> Reply:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=self.timeout, source_address=(self.source, 0)
        )
        all_headers = {**self.headers, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body, doseq=True)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            raw = response.getheaders()
        finally:
            conn.close()
        for name, value in raw:
            if name.lower() == "set-cookie":
                key, _, val = value.split(";", 1)[0].partition("=")
                if "expires=thu, 01 jan 1970" in value.lower() or not val:
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = val.strip()
        return Reply(response.status, {k.lower(): v for k, v in raw}, text)

    def open_form(self) -> dict[str, str]:
        reply = self.request("GET", "/request-appointment")
        assert reply.status == 200, reply.status
        csrf, token = CSRF.search(reply.body), FORM_TOKEN.search(reply.body)
        assert csrf and token
        return {"csrf_token": csrf.group(1), "form_token": token.group(1)}


def csrf_of(reply: Reply) -> str:
    match = CSRF.search(reply.body)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def reference_of(reply: Reply) -> str | None:
    match = RECEIVED.search(reply.headers.get("location", ""))
    return match.group(1) if match else None


class AccessLog:
    """nginx's access log (deploy/nginx.conf's `intake` format), by request id."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[dict[str, str]]:
        entries = []
        pattern = re.compile(
            r'^(?P<client>\S+) \[(?P<time>[^]]+)\] "(?P<method>\S+) (?P<path>\S+)" '
            r"(?P<status>\d+) \d+ \S+ \"(?P<upstream>[^\"]*)\" \"(?P<upstream_status>[^\"]*)\" "
            r"(?P<cache>\S+) (?P<request_id>\S+)$"
        )
        for line in self.path.read_text().splitlines():
            match = pattern.match(line)
            if match:
                entries.append(match.groupdict())
        return entries

    def entry(self, request_id: str, wait: float = 2.0) -> dict[str, str]:
        deadline = time.monotonic() + wait
        while True:
            for entry in self.lines():
                if entry["request_id"] == request_id:
                    return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"request {request_id} is not in nginx's access log")
            time.sleep(0.05)

    def upstream(self, request_id: str) -> str:
        """The host (host:port) that answered, "-" when nginx answered itself; a retried
        request lists every host tried, the one that answered last."""
        return self.entry(request_id)["upstream"]

    def answered_by(self, request_id: str) -> str:
        return self.upstream(request_id).split(",")[-1].strip()


# nginx's cache file header (ngx_http_file_cache_header_t, version 5 since nginx 1.7.x):
# ngx_uint_t version, then time_t valid_sec, updating_sec, error_sec, last_modified, date.
_CACHE_HEADER = struct.Struct("<Qqqqqq")
_CACHE_VERSION = 5


def cache_entries(cache_dir: Path) -> dict[str, Path]:
    """Every page nginx keeps, by its cache key."""
    entries = {}
    for path in cache_dir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        key = re.search(rb"\nKEY: ([^\n]*)\n", data)
        if key:
            entries[key.group(1).decode()] = path
    return entries


def cache_validity(path: Path) -> tuple[int, int]:
    """(valid until, the Date the page was stored with), both in seconds since the epoch."""
    version, valid_sec, _, _, _, date = _CACHE_HEADER.unpack_from(path.read_bytes())
    assert version == _CACHE_VERSION, f"nginx cache file format {version}, not {_CACHE_VERSION}"
    return valid_sec, date


def expire_cache_entry(path: Path) -> None:
    """Make a kept page due for revalidation now, instead of waiting for its max-age: nginx
    reads the expiry from the file's header on every hit."""
    data = bytearray(path.read_bytes())
    version, *_ = _CACHE_HEADER.unpack_from(data)
    assert version == _CACHE_VERSION
    struct.pack_into("<q", data, 8, int(time.time()) - 1)
    path.write_bytes(bytes(data))
