"""The journey's funnel: counted on the server without patient data, once per draft and
stage, on the day, device and language a draft began with; the admins' "Journey" page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from app.db import get_session
from app.models import AuditEvent, JourneyFunnelDay, RequestDraft
from app.requests import appointment_requests, drafts, journey_funnel
from app.requests.fields import STEPS, Step
from app.vocabulary import AuditAction, DeviceClass, JourneyStage, PageLanguage, StaffRole
from tests.intake.test_queue import counting_queries
from tests.support.forms import (
    SEND_URL,
    begin,
    fill_in,
    form_tokens,
    page_csrf,
    post_step,
    send,
    step_url,
    valid_answers,
)
from tests.support.html import parse
from tests.support.staff import signed_in_client

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def counts(db) -> dict[tuple[str, str, str], int]:
    db.rollback()
    return {
        (row.stage.value, row.device.value, row.language.value): row.drafts
        for row in db.scalars(select(JourneyFunnelDay))
    }


def stage_counts(db, device="phone", language="en") -> list[int]:
    found = counts(db)
    return [found.get((stage.value, device, language), 0) for stage in JourneyStage]


def test_every_step_but_the_first_is_a_stage_and_the_first_is_its_post():
    assert journey_funnel.stage_of(STEPS[0]) is JourneyStage.BEGAN
    assert [journey_funnel.stage_of(s).value for s in STEPS[1:]] == [s.value for s in STEPS[1:]]
    assert list(JourneyStage)[len(STEPS) :] == [JourneyStage.CHECK, JourneyStage.SENT]
    assert journey_funnel.stage_after(Step.CONSENT, valid=True) is JourneyStage.CHECK
    assert journey_funnel.stage_after(Step.PATIENT, valid=False) is None


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (IPHONE, DeviceClass.PHONE),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36", DeviceClass.PHONE),
        (DESKTOP, DeviceClass.COMPUTER),
        # iPadOS Safari says it is a Mac: a tablet counts as a computer.
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15", DeviceClass.COMPUTER),
        ("", DeviceClass.COMPUTER),
        (None, DeviceClass.COMPUTER),
    ],
)
def test_the_device_class_comes_from_the_user_agent(agent, device):
    assert journey_funnel.device_class(agent) is device


def test_a_whole_journey_counts_each_stage_once_under_how_it_began(app, client, db):
    phone = {"headers": {"User-Agent": IPHONE}}
    tokens = form_tokens(fill_in(client, **phone).get_data(as_text=True))
    # Back to the second page, sent again; the answers page reloaded: nothing new.
    post_step(client, Step.PATIENT, valid_answers(), "", **phone)
    client.get("/request-appointment/check", **phone)
    assert stage_counts(db) == [1, 1, 1, 1, 1, 1, 1, 0]
    assert send(client, tokens, **phone).status_code == 303
    # Sent twice (a double click): one request, counted once.
    assert send(client, tokens, **phone).status_code == 303
    assert stage_counts(db) == [1] * len(JourneyStage)
    assert stage_counts(db, device="computer") == [0] * len(JourneyStage)
    (row,) = {r.day for r in db.scalars(select(JourneyFunnelDay))}
    assert row == app.extensions["business_clock"].today(datetime.now(UTC))


def test_a_mistake_fixed_counts_the_page_once_and_a_stop_shows_where(client, db):
    desktop = {"headers": {"User-Agent": DESKTOP}}
    csrf = begin(client, **desktop)
    assert stage_counts(db, device="computer") == [1, 0, 0, 0, 0, 0, 0, 0]
    post_step(client, Step.WHO, valid_answers(), csrf, **desktop)
    # The patient's page sent empty three times, then right: the contact page is reached.
    for _ in range(3):
        post_step(client, Step.PATIENT, {}, csrf, **desktop)
    post_step(client, Step.PATIENT, valid_answers(), csrf, **desktop)
    assert stage_counts(db, device="computer") == [1, 1, 1, 0, 0, 0, 0, 0]


def test_a_draft_begun_in_spanish_stays_spanish_after_the_switch(client, db):
    csrf = page_csrf(client.get("/es/request-appointment").get_data(as_text=True))
    assert client.post("/es/request-appointment/who", data={"csrf_token": csrf}).status_code == 303
    assert counts(db) == {("began", "computer", "es"): 1}
    # The language switch half-way: the same draft, on the English address now, is still
    # counted where it began.
    csrf = page_csrf(client.get(step_url(Step.WHO)).get_data(as_text=True))
    post_step(client, Step.WHO, valid_answers(), csrf)
    assert counts(db) == {("began", "computer", "es"): 1, ("patient", "computer", "es"): 1}


def test_the_funnel_holds_no_patient_data(client, db):
    marker = "Zebulonmarkerova"
    fill_in(client, valid_answers(first_name=marker, last_name=marker))
    db.rollback()
    rows = db.execute(text("SELECT * FROM journey_funnel_days")).all()
    assert rows and marker not in repr(rows)
    # Columns: the day, three codes from the vocabulary and a count. Nothing else.
    assert list(rows[0]._mapping) == ["day", "stage", "device", "language", "drafts"]


@pytest.mark.postgres_only
def test_two_posts_of_one_page_at_once_count_once(app, db, backend):
    """The draft's stage moves by a conditional UPDATE: the second of two identical posts
    (a double click that reached the server twice) finds it moved and counts nothing, and
    its answers are still kept."""
    if backend == "sqlite":
        pytest.skip("SQLite's writers take turns (BEGIN IMMEDIATE): each reads the last")
    now = datetime.now(UTC)
    origin = journey_funnel.Origin(
        day=date(2026, 12, 1), device=DeviceClass.PHONE, language=PageLanguage.ENGLISH
    )
    with app.app_context():
        session = get_session()
        draft = drafts.start(
            session, now=now, keep=timedelta(hours=1), funnel=journey_funnel.counted_under(origin)
        )
        journey_funnel.reach(session, draft=draft, stage=JourneyStage.BEGAN)
        session.commit()
        key = draft.key
    first, second = (app.extensions["db_write_sessionmaker"]() for _ in range(2))
    try:
        stale = [drafts.find(s, key, now=now) for s in (first, second)]
        for session, draft, name in zip((first, second), stale, ("Ana", "Eva"), strict=True):
            draft.set(answers={"first_name": name})
            journey_funnel.reach(session, draft=draft, stage=JourneyStage.PATIENT)
            session.commit()
    finally:
        first.close()
        second.close()
    assert db.scalar(select(RequestDraft.answers)) == {"first_name": "Eva"}
    assert counts(db)[("patient", "phone", "en")] == 1


# -- the page ---------------------------------------------------------------------------


def seed(db) -> None:
    """A week: 10 began on phones (4 sent), 5 on computers in Spanish (3 sent)."""
    reached = {
        ("phone", "en"): [10, 9, 8, 5, 5, 4, 4, 4],
        ("computer", "es"): [5, 5, 5, 5, 4, 4, 3, 3],
    }
    for (device, language), numbers in reached.items():
        for stage, n in zip(JourneyStage, numbers, strict=True):
            db.add(
                JourneyFunnelDay(
                    day=date(2026, 11, 17), stage=stage, device=device, language=language, drafts=n
                )
            )
    # Outside the period: not counted.
    db.add(
        JourneyFunnelDay(
            day=date(2026, 11, 1), stage="began", device="phone", language="en", drafts=99
        )
    )
    db.commit()


def test_the_figures_for_a_period(db):
    seed(db)
    result = journey_funnel.funnel(db, start=date(2026, 11, 16), end=date(2026, 11, 22))
    everyone = result.overall
    assert everyone.began == 15
    assert everyone.reached[JourneyStage.SENT] == 7
    assert everyone.share(JourneyStage.SENT) == 46.7
    # Phones lose the most between the contact page and the diagnosis.
    phones = result.by_device[0]
    assert phones.stopped(JourneyStage.CONTACT) == 3
    assert phones.most_stopped is JourneyStage.CONTACT
    assert phones.stopped(JourneyStage.CHECK) == 0
    spanish = result.by_language[1]
    assert (spanish.label, spanish.began, spanish.stopped(JourneyStage.CONSENT)) == (
        "Spanish pages",
        5,
        1,
    )
    # Every stop adds up to everyone who began and did not send.
    assert sum(everyone.stopped(s) for s in journey_funnel.STOPPED_ON) == 15 - 7


def test_admins_see_the_journey_page_and_it_is_on_the_record(app, db):
    seed(db)
    client, admin = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = client.get("/staff/journey?start=2026-11-16&end=2026-11-22")
    assert page.status_code == 200
    html = parse(page)
    assert html.find("h1").get_text() == "Journey: how far people get"
    reached = html.find("caption", id="reached-caption").find_parent("table")
    header = [th.get_text(strip=True) for th in reached.find("thead").find_all("th")]
    assert header == [
        "Stage",
        "Everyone",
        "Phones",
        "Computers and tablets",
        "English pages",
        "Spanish pages",
    ]
    sent = reached.find("th", string="Sent the request").find_parent("tr")
    assert [td.get_text(" ", strip=True) for td in sent.find_all("td")] == [
        "7 (46.7%)",
        "4 (40.0%)",
        "3 (60.0%)",
        "4 (40.0%)",
        "3 (60.0%)",
    ]
    stopped = html.find("caption", id="stopped-caption").find_parent("table")
    contact = stopped.find("th", string="How to reach them").find_parent("tr")
    assert contact.find("td").get_text(" ", strip=True) == "3 (20.0%)"
    # The chart: one bar per stage and device, as wide as its share; the table is the truth.
    chart = html.find("ol", class_="funnel-chart__rows")
    assert chart["aria-hidden"] == "true"
    widths = [rect["width"] for rect in chart.find_all("rect")]
    assert widths[:2] == ["100.0%", "100.0%"] and widths[-2:] == ["40.0%", "60.0%"]
    assert "most stopped on How to reach them (3)" in html.get_text(" ")
    db.rollback()
    entry = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (entry.action, entry.staff_id, entry.detail) == (
        AuditAction.JOURNEY_VIEW,
        admin.id,
        "2026-11-16 to 2026-11-22",
    )


def test_an_empty_period_says_so_and_bad_dates_are_told(app, db):
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = client.get("/staff/journey?start=2026-11-20&end=2026-11-01")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert "Choose an end date on or after the start date" in text_
    assert "Nobody began a request in this period." in text_


def test_coordinators_may_not_see_it(app, db):
    client, _ = signed_in_client(app, db, role=StaffRole.INTAKE)
    assert client.get("/staff/journey").status_code == 403


def test_a_send_that_fails_counts_nothing(app, client, db, monkeypatch):
    tokens = form_tokens(fill_in(client).get_data(as_text=True))

    def unavailable(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database restarting"))

    monkeypatch.setattr(appointment_requests, "submit_request", unavailable)
    assert client.post(SEND_URL, data=tokens).status_code == 503
    assert counts(db).get(("sent", "computer", "en"), 0) == 0


def test_counting_costs_two_statements_on_a_new_stage_and_none_otherwise(app, client):
    """What the funnel costs a step: a post that reaches a new page sets the stage in the
    draft's own conditional UPDATE and runs the counter's upsert; a post that reaches
    nothing new (a mistake fixed, a page sent again) runs nothing more than it did before
    counting. A page sent again unchanged does not even rewrite the draft (issue 28)."""
    csrf = begin(client)
    post_step(client, Step.WHO, valid_answers(), csrf)  # the patient's page reached
    with counting_queries(app) as new_stage:
        post_step(client, Step.PATIENT, valid_answers(), csrf)
    with counting_queries(app) as nothing_new:
        post_step(client, Step.PATIENT, valid_answers(), csrf)
    writes = [s for s in new_stage if s.startswith(("UPDATE", "INSERT"))]
    assert len(writes) == 2
    assert writes[0].startswith("UPDATE request_drafts SET") and "funnel_stage" in writes[0]
    assert writes[1].startswith("INSERT INTO journey_funnel_days")
    assert [s for s in nothing_new if s.startswith(("UPDATE", "INSERT"))] == []
    # The step's own UPDATE of the draft, carrying the stage, and the counter's upsert.
    assert len(new_stage) == len(nothing_new) + 1 + 1
