"""The request journey's funnel, counted without patient data (issue 30).

**What is counted.** Each draft is counted once at each stage it reaches: ``began`` when
its first page is sent (the draft is made: the blank first page itself comes from a cache
that never reaches the app, app/serving/replay.py), then each later page when the person
is sent on to it, "Check your answers", and ``sent``. A page reached twice by one draft
(Back, a reload, a mistake to fix, a change from "Check your answers") counts once: the
draft remembers the furthest stage it was counted at, and only a stage beyond it counts
(with any it skipped, so the counts never grow from one stage to the next).

**Under what.** Every stage of a draft counts on the day (the center's date), device class
and language the draft *began* with, so each day's figures say how far the people who
began that day got, and a switch of language half-way does not move anyone between the
English and Spanish columns. The device class comes from the User-Agent alone
(``device_class``). No cookie beyond the journey's own session, no address, no answer.

**What it costs.** Nothing on a step that reaches nothing new (most posts after the
first pass: mistakes fixed, Back, changes). On one that does, the draft's own UPDATE
carries the stage under a condition on the stage it had (the database decides which of
two simultaneous posts of one page counts; the one that lost writes its answers
again without it), and one ``INSERT ... ON CONFLICT DO UPDATE`` raises the day's
counter: one statement more than the step writes anyway, at most seven times per request
sent (issue 28). On PostgreSQL the
counter's row stays locked until the step commits, so steps reaching the same stage on the
same day, device and language take turns for the length of a commit (about a millisecond:
far above a center's traffic).
Prometheus gets the same counts (``intake_journey_stage_reached_total``) when it commits.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.common import metrics
from app.models import JourneyFunnelDay
from app.requests.drafts import TABLE as _DRAFTS
from app.requests.drafts import Draft
from app.requests.fields import STEPS, Step
from app.vocabulary import DeviceClass, JourneyStage, PageLanguage

STAGES: tuple[JourneyStage, ...] = tuple(JourneyStage)
# The page a person was on when they stopped at each stage (staff read these).
STOPPED_ON: dict[JourneyStage, str] = {
    JourneyStage.BEGAN: "The first page (who is filling in the form)",
    JourneyStage.PATIENT: "About the patient",
    JourneyStage.CONTACT: "How to reach them",
    JourneyStage.DIAGNOSIS: "The diagnosis",
    JourneyStage.INSURANCE: "Insurance and referral",
    JourneyStage.CONSENT: "Anything else and consent",
    JourneyStage.CHECK: "Check your answers",
}


def device_class(user_agent: str | None) -> DeviceClass:
    """MDN's advice for telling phones apart: "Mobi" anywhere in the User-Agent."""
    return DeviceClass.PHONE if user_agent and "Mobi" in user_agent else DeviceClass.COMPUTER


def stage_of(step: Step) -> JourneyStage:
    """The stage of arriving at a page (the first page's is its post: ``began``)."""
    return JourneyStage.BEGAN if step is STEPS[0] else JourneyStage(step.value)


def stage_after(step: Step, *, valid: bool) -> JourneyStage | None:
    """Where a page sent with these answers takes the person: the next page, or "Check
    your answers" after the last; nowhere new when the page has a problem to fix."""
    if not valid:
        return None
    index = STEPS.index(step) + 1
    return stage_of(STEPS[index]) if index < len(STEPS) else JourneyStage.CHECK


@dataclass(frozen=True, kw_only=True)
class Origin:
    """What a draft is counted under: the day (the center's date) it began, the device
    class and the page's language."""

    day: date
    device: DeviceClass
    language: PageLanguage | str


def counted_under(origin: Origin) -> dict:
    """A new draft's columns for the funnel (``drafts.start``'s ``funnel``): counted under
    the day, device and language it began with."""
    return {
        "funnel_day": origin.day,
        "funnel_device": DeviceClass(origin.device),
        "funnel_language": PageLanguage(origin.language),
    }


def reach(session: Session, *, draft: Draft, stage: JourneyStage | None) -> None:
    """Write what changed in the draft and count it at ``stage``, and at any stage before
    it not counted yet, in one UPDATE; not counted if it was counted there already (or
    began before counting did). Nothing changed and nothing to count: no statement."""
    changes = draft.changes()
    new = _new_stages(draft, stage)
    connection = session.connection()
    if new:
        # Decided by the database: of two posts of one page at once (a double click),
        # only the one that moves the stage on counts.
        values = changes | {"funnel_stage": stage}
        guard = "none" if draft.funnel_stage is None else "was"
        moved = connection.execute(
            _update(tuple(sorted(values)), guard), _params(draft, values)
        ).rowcount
        if moved:
            draft.funnel_stage = stage
            _count(session, draft, new)
            return
    if changes:
        connection.execute(_update(tuple(sorted(changes)), None), _params(draft, changes))


@cache
def _update(columns: tuple[str, ...], guard: str | None):
    """The draft's UPDATE of these columns, built once per set of columns (a step changes
    the same few): with ``guard``, only if its stage is still none, or still the one it
    was read with."""
    where = [_DRAFTS.c.id == bindparam("draft_id")]
    if guard == "none":
        where.append(_DRAFTS.c.funnel_stage.is_(None))
    elif guard == "was":
        where.append(_DRAFTS.c.funnel_stage == bindparam("stage_was"))
    return update(_DRAFTS).where(*where).values({c: bindparam(f"new_{c}") for c in columns})


def _params(draft: Draft, values: dict) -> dict:
    params = {f"new_{name}": value for name, value in values.items()}
    return params | {"draft_id": draft.id, "stage_was": draft.funnel_stage}


def _new_stages(draft: Draft, stage: JourneyStage | None) -> tuple[JourneyStage, ...]:
    if stage is None or draft.funnel_day is None:
        return ()
    counted = STAGES.index(draft.funnel_stage) if draft.funnel_stage else -1
    return STAGES[counted + 1 : STAGES.index(stage) + 1]


def _count(session: Session, draft: Draft, new: tuple[JourneyStage, ...]) -> None:
    device = DeviceClass(draft.funnel_device)
    language = PageLanguage(draft.funnel_language)
    session.connection().execute(
        _raise_counter(session.get_bind().dialect.name),
        [
            {"day": draft.funnel_day, "stage": s, "device": device, "language": language}
            for s in new
        ],
    )
    metrics.count_journey_stages(session, stages=list(new), device=device, language=language)


@cache
def _raise_counter(dialect: str):
    table = JourneyFunnelDay.__table__
    insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
    statement = insert(table).values(drafts=1)
    return statement.on_conflict_do_update(
        index_elements=[table.c.day, table.c.stage, table.c.device, table.c.language],
        set_={"drafts": table.c.drafts + 1},
    )


# -- the Journey page ---------------------------------------------------------------------


@dataclass
class Group:
    """One column of the funnel: everyone, phones, computers, English, Spanish."""

    label: str
    reached: dict[JourneyStage, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))

    @property
    def began(self) -> int:
        return self.reached[JourneyStage.BEGAN]

    def share(self, stage: JourneyStage) -> float | None:
        """Percent of those who began that reached ``stage``; None when nobody began."""
        return round(100 * self.reached[stage] / self.began, 1) if self.began else None

    def stopped(self, stage: JourneyStage) -> int:
        """Reached ``stage`` and went no further (for ``check``: never sent)."""
        after = STAGES.index(stage) + 1
        return self.reached[stage] - (self.reached[STAGES[after]] if after < len(STAGES) else 0)

    def stopped_share(self, stage: JourneyStage) -> float | None:
        return round(100 * self.stopped(stage) / self.began, 1) if self.began else None

    @property
    def most_stopped(self) -> JourneyStage | None:
        """The page the most people stopped on, if anyone stopped."""
        stops = [(self.stopped(s), -STAGES.index(s), s) for s in STOPPED_ON]
        count, _, stage = max(stops)
        return stage if count else None


@dataclass(frozen=True)
class Funnel:
    start: date
    end: date
    overall: Group
    by_device: list[Group]
    by_language: list[Group]

    @property
    def groups(self) -> list[Group]:
        return [self.overall, *self.by_device, *self.by_language]


def funnel(session: Session, *, start: date, end: date) -> Funnel:
    """Drafts begun from ``start`` to ``end`` (the center's dates, inclusive) and how far
    they got, overall, by device class and by language: one query."""
    f = JourneyFunnelDay
    rows = session.execute(
        select(f.stage, f.device, f.language, func.sum(f.drafts))
        .where(f.day >= start, f.day <= end)
        .group_by(f.stage, f.device, f.language)
    ).all()
    overall = Group("Everyone")
    devices = {d: Group(d.label) for d in DeviceClass}
    languages = {lang: Group(f"{lang.label} pages") for lang in PageLanguage}
    for stage, device, language, drafts in rows:
        for group in (overall, devices[DeviceClass(device)], languages[PageLanguage(language)]):
            group.reached[JourneyStage(stage)] += int(drafts or 0)
    return Funnel(
        start=start,
        end=end,
        overall=overall,
        by_device=list(devices.values()),
        by_language=list(languages.values()),
    )
