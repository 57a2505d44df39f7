"""The shipped nginx configuration: what the cluster renders from it, what nginx thinks of
it, and the copy ops read in docs/production.md."""

from __future__ import annotations

import subprocess

import pytest

from deploy.cluster import NGINX_BIN, NGINX_CONF, ROOT, ClusterError, render_nginx_conf

RENDERED = {
    "listen": "127.0.0.1:8080",
    "app_hosts": ("10.0.0.1:8000", "10.0.0.2:8000"),
    "quick_hosts": ("10.0.0.1:8010", "10.0.0.2:8010"),
}


def test_rendering_fills_in_the_placeholders_and_changes_nothing_else(tmp_path):
    conf = render_nginx_conf(**RENDERED, static_dir=tmp_path)
    assert "${" not in conf
    assert "listen 127.0.0.1:8080;" in conf
    assert "server 10.0.0.1:8000 max_fails" in conf and "server 10.0.0.2:8000 max_fails" in conf
    assert "server 10.0.0.1:8010 max_fails" in conf and "server 10.0.0.2:8010 max_fails" in conf
    assert f"alias {tmp_path}/;" in conf
    shipped = NGINX_CONF.read_text()
    assert len(conf.splitlines()) == len(shipped.splitlines())


def test_a_placeholder_the_cluster_does_not_know_is_refused(tmp_path):
    with pytest.raises(ClusterError):
        render_nginx_conf(
            **RENDERED, static_dir=tmp_path, template=NGINX_CONF.read_text() + "# ${OTHER}\n"
        )


def test_only_the_public_form_may_be_sent_to_a_second_host_after_the_first_had_it():
    # nginx re-sends a POST that a host already received only where `non_idempotent` is
    # set: the journey (a step stores the same answers again; the send has a one-time form
    # token), never staff POSTs (claims, notes, sign-in).
    shipped = NGINX_CONF.read_text()
    directives = [
        line.strip() for line in shipped.splitlines() if line.strip().startswith("proxy_next")
    ]
    # The form, in English and in Spanish (/es/).
    assert [d for d in directives if "non_idempotent" in d] == 2 * [
        "proxy_next_upstream error timeout non_idempotent;"
    ]
    # The journey's steps and send, in English and in Spanish (/es/); its first page (a GET)
    # is matched exactly so that nginx does not redirect it to the prefix's trailing slash.
    for address in ("/request-appointment", "/es/request-appointment"):
        form = shipped.split(f"location {address}/ {{", 1)[1].split("}", 1)[0]
        assert "non_idempotent;" in form, address
        first = shipped.split(f"location = {address} {{", 1)[1].split("}", 1)[0]
        assert "non_idempotent" not in first and "proxy_cache off;" in first, address
    staff = shipped.split("location /staff/ {", 1)[1].split("}", 1)[0]
    assert "non_idempotent" not in staff


def test_nginx_accepts_the_rendered_file(tmp_path):
    conf = render_nginx_conf(**RENDERED, static_dir=ROOT / "static")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    for sub in ("logs", "temp", "cache"):
        (tmp_path / sub).mkdir()
    try:
        check = subprocess.run(  # noqa: S603
            [NGINX_BIN, "-t", "-q", "-p", f"{tmp_path}/", "-c", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip(f"no nginx at {NGINX_BIN} (make nginx)")
    assert check.returncode == 0, check.stderr


def test_docs_production_shows_the_shipped_file_as_it_is():
    docs = (ROOT / "docs" / "production.md").read_text()
    copy = docs.split("```nginx\n", 1)[1].split("```", 1)[0]
    assert copy == NGINX_CONF.read_text()


def test_only_pages_that_never_touch_the_database_go_to_the_quick_lanes():
    # The quick lanes answer everything else 404 (app/serving/quick_lane.py): only exact
    # addresses of pages the same for everyone, and /healthz, are sent there.
    shipped = NGINX_CONF.read_text()
    quick = sorted(
        block.split("{", 1)[0].strip()
        for block in shipped.split("location ")[1:]
        if "proxy_pass http://intake_quick;" in block.split("}", 1)[0]
    )
    assert quick == ["= /", "= /es/", "= /es/favicon.ico", "= /favicon.ico", "= /healthz"]
