"""The private page's messages: each a whole sentence, marked for translation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.common.i18n import _l
from app.records import documents, files
from app.vocabulary import ScanStatus

DATE_OF_BIRTH_WRONG = _l("The date of birth does not match our records. Check it and try again.")
NO_FILE = _l("Choose a file to send, or take a photo")


def too_many_files(count: int):
    return _l("Send at most %(count)s files at a time", count=count)


def _refusals(config: Mapping) -> dict:
    return {
        files.NOT_A_KIND_WE_TAKE: _l(
            "This file is not a PDF, JPEG, PNG or HEIC photo. Send the file in one of those"
            " kinds, or take a photo of the page."
        ),
        files.EMPTY: _l("This file is empty. Choose the file again."),
        files.ENCRYPTED: _l(
            "This PDF is protected with a password. Send a copy without the password, or"
            " take a photo of each page."
        ),
        files.BROKEN: _l(
            "This file seems damaged and could not be opened. Save or download it again,"
            " then send the new copy."
        ),
        files.ACTIVE_CONTENT: _l(
            "This PDF contains a script or attached files, which we cannot accept. Print it"
            " to a new PDF, or take a photo of each page."
        ),
        files.TOO_MANY_PIXELS: _l("This picture is too large. Send a smaller photo."),
        documents.TOO_BIG: _l(
            "This file is larger than %(mb)s MB. Send a smaller copy, or a photo of each page.",
            mb=config["RECORDS_MAX_FILE_MB"],
        ),
        documents.REQUEST_FULL: _l(
            "Your files together would be more than %(mb)s MB, the most we can take online."
            " Bring the rest to your first visit.",
            mb=config["RECORDS_MAX_REQUEST_MB"],
        ),
        documents.TOO_MANY_FILES: _l(
            "You have sent %(count)s files, the most we can take online. Bring the rest to"
            " your first visit.",
            count=config["RECORDS_MAX_FILES"],
        ),
    }


@dataclass(frozen=True)
class Outcome:
    """What happened to one file of a send, for the page (and the script's progress)."""

    name: str
    ok: bool
    message: object

    def as_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "message": str(self.message)}


def refused(reason: str, name: str | None, *, config: Mapping) -> Outcome:
    return Outcome(_short(name), False, _refusals(config)[reason])


def received(result: documents.Received, name: str | None) -> Outcome:
    if result.already_there:
        message = _l("We already had this file. It is kept once.")
    elif result.scan_status == ScanStatus.FLAGGED:
        message = _l(
            "Our virus check stopped this file, so nobody will open it. Send another copy,"
            " or bring it to your first visit."
        )
    elif result.scan_status == ScanStatus.PENDING:
        message = _l("Received. We check every file for viruses before our team opens it.")
    else:
        message = _l("Received.")
    return Outcome(_short(name), result.scan_status != ScanStatus.FLAGGED, message)


def _short(name: str | None) -> str:
    # The person's own file name, shown back on their page only, never stored.
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:80]


def release_statements(*, center: str, phone: str, expires: object) -> list:
    """The authorization's required statements (45 CFR 164.508(c)), the same sentences on
    the page the person signs and in the text kept with the signature."""
    return [
        _l(
            "Purpose: to plan and give my care at %(center)s, at my request.",
            center=center,
        ),
        _l(
            "This authorization ends on %(date)s, one year after I sign it, unless I revoke it"
            " sooner.",
            date=expires,
        ),
        _l(
            "I may revoke it at any time by writing to %(center)s, New Patient Office, or by"
            " calling %(phone)s and then confirming in writing. Revoking it does not undo what"
            " was shared before you received my revocation.",
            center=center,
            phone=phone,
        ),
        _l(
            "My treatment, payment, enrollment in a health plan or eligibility for benefits"
            " does not depend on whether I sign."
        ),
        _l(
            "Once shared, the information may be disclosed again by the one who receives it"
            " and may no longer be protected by federal privacy law."
        ),
        _l(
            "It does not include psychotherapy notes, or records of a substance use disorder"
            " program, which need a separate authorization."
        ),
        _l("I may have a copy of this authorization."),
    ]
