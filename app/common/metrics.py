"""Prometheus metrics: every series the app counts, named once here (issue 30).

What each one means, and the alerts built on them, are in docs/operations.md ("Metrics and
alerts"). Names follow Prometheus's conventions: an ``intake_`` prefix, base units
(seconds), ``_total`` on counters.

**No label ever holds patient data, a reference or an e-mail.** Every label value comes
from a closed list: a URL *rule* (``/request-appointment/received/<reference>``, never
the address someone opened), an HTTP method and status, or a member of a vocabulary enum
(``app/vocabulary.py``). The functions below take those enums, not strings, so a caller
cannot pass a name or an address by mistake; ``tests/ops/test_metrics.py`` scrapes after
a journey full of marker values and finds none of them.

Under gunicorn every worker counts in files of its own in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode, set up by gunicorn.conf.py) and ``/metrics`` adds
them up (``app/ops/metrics.py``). Without that variable (tests, ``flask run``) the counts
live in the process. Nothing here imports Flask: the domains count through it.

Counts that must only happen if the transaction commits (a request received, a journey
stage reached) go through ``after_commit``: a rolled-back send is not a request received,
and the retry that follows is counted once.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.vocabulary import (
    DeviceClass,
    JourneyStage,
    Language,
    MessageKind,
    PageLanguage,
    ScanStatus,
    SignInOutcome,
)

# In multiprocess mode a metric without labels opens its process's file as soon as it is
# defined, here, at import: the directory must exist by then, in every process that
# imports the app (gunicorn makes it too; a `flask` command or the outbox worker may be
# first). The one thing done at import, because prometheus_client decides it at import.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# -- HTTP --------------------------------------------------------------------------------

# Seconds. A public page answers in a few milliseconds, a staff page in tens, a send in
# about a hundred; 30 s is gunicorn's worker timeout (nothing can take longer).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUEST_SECONDS = Histogram(
    "intake_http_request_duration_seconds",
    "Time to answer a request, by URL rule (never the address itself), method and status."
    " Its _count is the number of requests.",
    ["route", "method", "status"],
    buckets=_HTTP_BUCKETS,
)
# The route label of a request that matched no rule (a 404, a 405).
UNMATCHED_ROUTE = "(unmatched)"

# -- the database pool --------------------------------------------------------------------

DB_POOL_IN_USE = Gauge(
    "intake_db_pool_connections_in_use",
    "PostgreSQL connections checked out of the pools of the running workers.",
    multiprocess_mode="livesum",
)
DB_POOL_CHECKOUT_SECONDS = Histogram(
    "intake_db_pool_checkout_seconds",
    "Time to get a connection from the pool: waiting for a free one (gthread workers),"
    " opening a new one, and its ping.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_TIMEOUTS = Counter(
    "intake_db_pool_timeouts",
    "Requests that waited DB_POOL_TIMEOUT for a pooled connection and got none (a 503).",
)

# -- rate limits, sign-in, audit ------------------------------------------------------------

RATE_LIMIT_REFUSALS = Counter(
    "intake_rate_limit_refusals",
    "Posts refused with a 429 by a rate limit: form (sending a request), draft (beginning"
    " one), sign_in.",
    ["limit"],
)
RATE_LIMITS = ("form", "draft", "sign_in")

SIGN_INS = Counter(
    "intake_sign_ins",
    "Staff sign-in outcomes: success, wrong_password (or unknown account), wrong_code"
    " (authenticator, recovery code or passkey), throttled.",
    ["outcome"],
)

AUDIT_APPEND_SECONDS = Histogram(
    "intake_audit_append_seconds",
    "Time to append an entry to the audit trail: waiting for the chain's lock, reading the"
    " last hash, writing the row.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0),
)

# -- requests and the journey ---------------------------------------------------------------

REQUESTS_RECEIVED = Counter(
    "intake_requests_received",
    "New-patient requests stored (re-sends not counted), by referral (physician or self)"
    " and the patient's preferred language.",
    ["referral", "language"],
)

JOURNEY_REACHED = Counter(
    "intake_journey_stage_reached",
    "Drafts of the request journey that reached a stage for the first time (began, each"
    " step, check, sent), by device class and the language the draft began in.",
    ["stage", "device", "language"],
)

# -- e-mail ---------------------------------------------------------------------------------

OUTBOX_DELIVERIES = Counter(
    "intake_outbox_deliveries",
    "Outbox delivery attempts by result: sent, retry (a temporary refusal), failed (refused"
    " or given up), unreachable (the mail server did not answer; the message waits).",
    ["kind", "result"],
)
OUTBOX_RESULTS = ("sent", "retry", "failed", "unreachable")

# -- documents (issue 29's uploads) ---------------------------------------------------------

DOCUMENTS_SCANNED = Counter(
    "intake_documents_scanned",
    "Records the person sent, scanned by clamd, by result: clean, flagged, or pending "
    "(clamd could not be asked).",
    ["result"],
)


# -- the calls the rest of the app makes ----------------------------------------------------


def count_sign_in(session: Session, outcome: SignInOutcome) -> None:
    """Counted when the audit entry of the attempt commits: the counts match the trail."""
    after_commit(session, SIGN_INS.labels(outcome=SignInOutcome(outcome).value).inc)


def count_rate_limit_refusal(limit: str) -> None:
    if limit not in RATE_LIMITS:
        raise ValueError(f"unknown rate limit {limit!r}")
    RATE_LIMIT_REFUSALS.labels(limit=limit).inc()


def count_outbox_delivery(kind: MessageKind, result: str) -> None:
    if result not in OUTBOX_RESULTS:
        raise ValueError(f"unknown outbox result {result!r}")
    OUTBOX_DELIVERIES.labels(kind=kind.value, result=result).inc()


def count_document_scanned(result: ScanStatus) -> None:
    """A record scanned by clamd (app/records/documents.py): clean, flagged, or still
    pending because clamd could not be asked."""
    DOCUMENTS_SCANNED.labels(result=result.value).inc()


def count_request_received(session: Session, *, referred: bool, language: Language) -> None:
    """Counted when the transaction that stores the request commits."""
    child = REQUESTS_RECEIVED.labels(
        referral="physician" if referred else "self", language=Language(language).value
    )
    after_commit(session, child.inc)


def count_journey_stages(
    session: Session,
    *,
    stages: list[JourneyStage],
    device: DeviceClass,
    language: PageLanguage,
) -> None:
    """Counted when the step's transaction commits."""
    for stage in stages:
        child = JOURNEY_REACHED.labels(
            stage=stage.value, device=device.value, language=PageLanguage(language).value
        )
        after_commit(session, child.inc)


# -- counting on commit -----------------------------------------------------------------------

_ON_COMMIT = "intake_metrics_on_commit"


def after_commit(session: Session, count: Callable[[], None]) -> None:
    """Run ``count`` when the session's current transaction commits; forget it if it
    rolls back. Costs nothing in the database."""
    session.info.setdefault(_ON_COMMIT, []).append(count)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for count in session.info.pop(_ON_COMMIT, ()):
        count()


@event.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    # A committed transaction's counts ran in after_commit, which comes first.
    if transaction.parent is None:
        session.info.pop(_ON_COMMIT, None)
