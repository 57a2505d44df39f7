"""The records' settings, from the application's configuration (read by the views and
the commands; the services take the objects, never the configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

from app.records import clamd
from app.records.documents import MEGABYTE, RecordLimits, Scanner, Storage


def limits(config: Mapping) -> RecordLimits:
    return RecordLimits(
        file_bytes=config["RECORDS_MAX_FILE_MB"] * MEGABYTE,
        request_bytes=config["RECORDS_MAX_REQUEST_MB"] * MEGABYTE,
        files=config["RECORDS_MAX_FILES"],
    )


def storage(config: Mapping) -> Storage:
    path = config.get("RECORDS_PATH")
    return Storage(Path(path) if path else None)


def clamd_settings(config: Mapping) -> clamd.ClamdSettings:
    return clamd.ClamdSettings(address=config["CLAMD_ADDRESS"], timeout=config["CLAMD_TIMEOUT"])


def scanner(config: Mapping) -> Scanner:
    return partial(clamd.scan, settings=clamd_settings(config))


# One upload may carry this many files (the plain form's "choose files" box); the body
# limit of the upload's address is that many files at the per-file limit, and a little.
FILES_PER_SEND = 5


def upload_body_limit(config: Mapping) -> int:
    return FILES_PER_SEND * config["RECORDS_MAX_FILE_MB"] * MEGABYTE + MEGABYTE
