"""Staff pages as a person (or a screen reader) meets them: one h1, unique ids, the
staff look, who is signed in and a way out."""

from __future__ import annotations

from collections import Counter

from app.models import StaffRole
from tests.support.html import parse
from tests.support.staff import a_referral, csrf_from, make_request, signed_in_client


def check_page(response, *, title: str) -> None:
    assert response.status_code in (200, 400)
    soup = parse(response)
    assert soup.body["class"] == ["staff"]
    assert title in soup.title.get_text()
    assert len(soup.find_all("h1")) == 1
    assert soup.find("main", id="main") is not None
    ids = Counter(tag["id"] for tag in soup.find_all(id=True))
    assert [i for i, n in ids.items() if n > 1] == []
    for field in soup.select("input:not([type=hidden]), select, textarea"):
        assert soup.find("label", attrs={"for": field["id"]}), field["id"]
    assert not soup.find_all("script", src=False)
    assert not soup.find_all(style=True)


def test_pages_are_well_formed(app, db):
    row = make_request(db, referral=a_referral())
    make_request(db)  # a duplicate of the first: same email and phone
    client, _ = signed_in_client(
        app, db, role=StaffRole.ADMIN, email="ada@example.org", name="Ada Admin"
    )
    check_page(client.get("/staff/queue"), title="Intake queue")
    detail = client.get(f"/staff/requests/{row.reference}")
    check_page(detail, title="Request")
    token = csrf_from(detail.get_data(as_text=True))
    client.post(f"/staff/requests/{row.reference}/claim", data={"csrf_token": token})
    client.post(
        f"/staff/requests/{row.reference}/notes", data={"csrf_token": token, "note": "Called."}
    )
    check_page(client.get(f"/staff/requests/{row.reference}"), title="Request")
    refused = client.post(
        f"/staff/requests/{row.reference}/status",
        data={"csrf_token": token, "to_status": "closed"},
    )
    check_page(refused, title="Error: Request")
    check_page(client.get("/staff/audit"), title="Audit trail")


def test_header_names_who_is_signed_in_with_a_sign_out_button(app, db):
    client, _ = signed_in_client(app, db)
    soup = parse(client.get("/staff/queue"))
    header = soup.select_one("header")
    assert "Casey Intake" in header.get_text()
    form = header.select_one('form[action="/staff/logout"]')
    assert form["method"] == "post"
    assert form.select_one('input[name="csrf_token"]')["value"]
    assert form.select_one("button").get_text(strip=True) == "Sign out"
    # Intake staff are not offered the admin pages.
    assert soup.select_one('a[href="/staff/audit"]') is None


def test_sign_in_page_is_well_formed(app):
    response = app.test_client().get("/staff/login")
    check_page(response, title="Staff sign-in")
    assert parse(response).select_one("form")["novalidate"] is not None
