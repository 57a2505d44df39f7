"""The admin's FHIR downloads in a real browser: the export page passes axe-core empty and
with an error, and both downloads arrive as files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.browser.staff_support import StaffAccount, add_requests, create_staff, sign_in
from tests.browser.support import assert_accessible

pytestmark = pytest.mark.browser

ADMIN = StaffAccount(email="fhir.admin.browser@example.org", name="Fran FHIR")


@pytest.fixture(scope="module")
def reference(live_server) -> str:
    create_staff(live_server, ADMIN, role="admin")
    (first,) = add_requests(live_server, {"first_name": "Flora", "last_name": "Fhir-Export"})
    return first


def test_an_admin_downloads_a_request_and_the_bulk_export(new_page, reference):
    page = new_page()
    sign_in(page, ADMIN.email, ADMIN.password)
    page.goto(f"/staff/requests/{reference}")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as FHIR").click()
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"

    page.get_by_role("link", name="FHIR export").click()
    assert_accessible(page, "FHIR export")
    page.get_by_label("Requests changed since").fill("not a date")
    with page.expect_navigation():
        page.get_by_role("button", name="Download the export").click()
    assert "Enter a real date" in page.locator(".error-summary").inner_text()
    assert_accessible(page, "FHIR export with a bad date")

    page.get_by_label("Requests changed since").fill("2020-01-01")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the export").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    families = [
        json.loads(line)["name"][0]["family"]
        for line in archive.read("Patient.ndjson").decode().splitlines()
    ]
    assert "Fhir-Export" in families
