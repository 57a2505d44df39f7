"""Static files under fingerprinted names (app/serving/static_files.py): every page links
them, they are kept a year and never revalidated, and a name whose digest is not the
file's is never kept."""

from __future__ import annotations

import hashlib
import re

from flask import Flask

from app.serving.static_files import EXTENSION_KEY, Fingerprints
from tests.support.html import parse
from tests.support.staff import signed_in_client

ROOT_STATIC = "static"


def stylesheet(app: Flask) -> str:
    """The stylesheet's address as the pages link it."""
    return "/static/" + app.extensions[EXTENSION_KEY].name_for("css/site.css")


def linked_files(page) -> list[str]:
    soup = parse(page)
    return [
        url
        for url in [
            *(t.get("href") for t in soup.select("link")),
            *(t.get("src") for t in soup.select("script")),
        ]
        if url and url.startswith("/static/")
    ]


def test_pages_link_each_file_by_its_content_s_digest(app, db):
    client, _ = signed_in_client(app, db)
    pages = [app.test_client().get(p) for p in ("/", "/es/", "/request-appointment", "/no-such")]
    pages += [client.get("/staff/queue"), client.get("/staff/account/passkeys")]
    linked = {url for page in pages for url in linked_files(page)}
    assert {"/static/css/site", "/static/js/site", "/static/js/passkeys"} == {
        re.sub(r"\.[0-9a-f]{12}\.\w+$", "", url) for url in linked
    }
    for url in linked:
        name, digest, ext = url.removeprefix("/static/").rsplit(".", 2)
        content = app.root_path + f"/../{ROOT_STATIC}/{name}.{ext}"
        with open(content, "rb") as file:
            assert hashlib.sha256(file.read()).hexdigest()[:12] == digest, url


def test_a_fingerprinted_file_is_kept_a_year_and_never_asked_for_again(client, app):
    with client.get(stylesheet(app)) as response:
        check_kept_a_year(app, response)


def check_kept_a_year(app, response) -> None:
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    cache_control = response.headers["Cache-Control"]
    assert "immutable" in cache_control and "public" in cache_control
    assert "max-age=31536000" in cache_control
    with open(f"{app.static_folder}/css/site.css", "rb") as file:
        assert response.data == file.read()


def test_a_name_that_is_not_the_file_s_is_never_kept(client, app):
    for url in ("/static/css/site.css", "/static/css/site.0123456789ab.css"):
        # The file as it is now (a page of another release still gets its styles), asked
        # for again each time.
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["ETag"]
    assert client.get("/static/css/none.0123456789ab.css").status_code == 404


def test_a_changed_file_gets_a_new_name(tmp_path):
    (tmp_path / "css").mkdir()
    style = tmp_path / "css" / "site.css"
    style.write_text("body { color: black; }")
    (tmp_path / "app.min.js").write_text("1")
    before = Fingerprints.of(tmp_path)
    style.write_text("body { color: navy; }")
    after = Fingerprints.of(tmp_path)
    assert before.name_for("css/site.css") != after.name_for("css/site.css")
    assert re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", after.name_for("css/site.css"))
    assert re.fullmatch(r"app\.min\.[0-9a-f]{12}\.js", after.name_for("app.min.js"))
    assert after.file_for(after.name_for("app.min.js")) == ("app.min.js", True)
    assert after.file_for(before.name_for("css/site.css")) == ("css/site.css", False)
