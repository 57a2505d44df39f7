"""Static files under fingerprinted names: ``/static/css/site.3f2a9c0e71b4.css``.

A name that carries its content's digest never changes meaning, so browsers and proxies
keep it a year and never ask again (``immutable``); a release that changes a file
changes its digest, and its pages name the new file. Before, the stylesheet and script
answered ``no-cache`` and every page view revalidated both.

The digests are worked out once, when the app is made, from the files themselves (a
handful of small files: the only cost is reading them once per worker). Pages name the
files through ``static_url`` (app/templating.py). Flask's own static view answers both
kinds of address:

- the fingerprinted name whose digest is the file's: the file, ``public, max-age`` a
  year, ``immutable``;
- the plain name, or a fingerprinted one whose digest is not the file's (a page of
  another release, during a deploy): the file as it is now, ``no-cache`` with its ETag,
  so nothing is kept under a name it does not match.

deploy/nginx.conf sends fingerprinted names to the app and keeps its answer in its cache,
so nginx never guesses which file a digest names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, send_from_directory

ENDPOINT = "static"
EXTENSION_KEY = "static_fingerprints"
DIGEST_LENGTH = 12  # hex: 48 bits, far more than a site's few files ever need
IMMUTABLE_MAX_AGE = 365 * 24 * 3600
_FINGERPRINTED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<ext>\.\w+)$"
)


@dataclass(frozen=True)
class Fingerprints:
    # "css/site.css" -> "css/site.3f2a9c0e71b4.css"
    names: dict[str, str]

    @classmethod
    def of(cls, folder: Path) -> Fingerprints:
        names = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            filename = path.relative_to(folder).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_LENGTH]
            folder_part = filename[: -len(path.name)]  # "css/", or "" at the top
            names[filename] = f"{folder_part}{path.stem}.{digest}{path.suffix}"
        return cls(names)

    def name_for(self, filename: str) -> str:
        """The fingerprinted name of a static file (the plain one for a file not there)."""
        return self.names.get(filename, filename)

    def file_for(self, name: str) -> tuple[str, bool]:
        """The file an address names, and whether the address is that file's own
        fingerprinted name (then it may be kept for good)."""
        match = _FINGERPRINTED.match(name)
        if match is None:
            return name, False
        filename = match["stem"] + match["ext"]
        if filename not in self.names:
            return name, False
        return filename, self.names[filename] == name


def init_app(app: Flask) -> None:
    assert app.static_folder is not None  # the factory names it
    fingerprints = Fingerprints.of(Path(app.static_folder))
    app.extensions[EXTENSION_KEY] = fingerprints

    def static(filename: str) -> Response:
        real, fingerprinted = fingerprints.file_for(filename)
        if not fingerprinted:
            # As Flask answers it: no-cache, revalidated by its ETag.
            return app.send_static_file(real)
        response = send_from_directory(app.static_folder, real, max_age=IMMUTABLE_MAX_AGE)
        response.cache_control.public = True
        response.cache_control.immutable = True
        return response

    # Flask's static route, answered by the view above (the route and its endpoint stay).
    app.view_functions[ENDPOINT] = static
