"""``/metrics`` for Prometheus: what every worker counted, and what the database holds now.

**Who may read it.** Not the public: the figures say how busy the center is and how its
sign-ins fail. A scrape is answered when it comes from an address in
``METRICS_ALLOWED_NETWORKS`` (default: this machine only) or carries
``Authorization: Bearer <METRICS_BEARER_TOKEN>``; anything else gets the site's 404 page,
as for an address that does not exist. The address is the one the trusted-proxy fix
leaves (app/serving/trusted_proxies.py): a scrape through the shipped nginx is judged by
the visitor's address, not nginx's, and nginx refuses ``/metrics`` anyway
(deploy/nginx.conf); Prometheus scrapes each app host directly. ``flask check-deploy``
says who can read it.

**Every worker's counts.** Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` names a directory
where each worker process (and the outbox worker, given the same directory) keeps its
counts in files of its own (prometheus_client's multiprocess mode); the scrape, answered
by whichever worker, adds them up. gunicorn.conf.py makes the directory when it is
missing, removes the files of processes that are no longer running when gunicorn starts,
and those of a live gauge when a worker exits. Without the variable (tests, ``flask run``)
the process's own counts are served, with its CPU and memory.

**What the database holds** is read at each scrape, in one short transaction: requests
waiting for a first contact and how many are overdue, the outbox by status and the age of
its oldest waiting message, and ``intake_database_up`` (0 when the database did not
answer: the scrape still answers, so "database unreachable" is an alert, not a missing
target). Every host reports the same figures; the alerts take their ``max``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Response, abort, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db import DATABASE_UNAVAILABLE
from app.mail import outbox
from app.requests import overdue as overdue_rule
from app.vocabulary import OutboxStatus
from config import ConfigError

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# A token shorter than this could be guessed; check-deploy says so.
MIN_TOKEN_LENGTH = 32
_BEARER = "bearer "


def networks(setting: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """METRICS_ALLOWED_NETWORKS: addresses or networks, comma-separated."""
    found = []
    for part in (p.strip() for p in (setting or "").split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                "METRICS_ALLOWED_NETWORKS must list addresses or networks like 10.0.0.5 or "
                f"10.0.0.0/24, got {part!r}"
            ) from None
    return tuple(found)


def _address_allowed(address: str | None, allowed) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed)


def _token_matches(header: str | None, token: str | None) -> bool:
    if not token or not header or not header.lower().startswith(_BEARER):
        return False
    return hmac.compare_digest(header[len(_BEARER) :].strip().encode(), token.encode())


def may_read(*, address: str | None, authorization: str | None, config) -> bool:
    if _token_matches(authorization, config.get("METRICS_BEARER_TOKEN")):
        return True
    return _address_allowed(address, config["METRICS_ALLOWED"])


def metrics_response() -> Response:
    config = current_app.config
    if not may_read(
        address=request.remote_addr,
        authorization=request.headers.get("Authorization"),
        config=config,
    ):
        # The same page as any address that does not exist: nothing to learn here.
        abort(404)
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_DIR):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseFigures(current_app.extensions["db_engine"]))
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), content_type=content_type)


class _ThisProcess:
    """Everything this process counted (no gunicorn: tests, ``flask run``)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class DatabaseFigures:
    """What the database holds at the moment of the scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "intake_database_up", "1 if the database answered this scrape's queries, else 0."
        )
        took = GaugeMetricFamily(
            "intake_database_scrape_seconds", "Time the scrape's database queries took."
        )
        started = time.perf_counter()
        try:
            figures = self._figures()
        except DATABASE_UNAVAILABLE:
            up.add_metric([], 0)
            took.add_metric([], time.perf_counter() - started)
            yield from (up, took)
            return
        up.add_metric([], 1)
        took.add_metric([], time.perf_counter() - started)
        yield from (up, took, *figures)

    def _figures(self) -> list[Metric]:
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            waiting, overdue = overdue_rule.waiting_and_overdue(session, now=now)
            depth = outbox.queue_depth(session)
        open_requests = GaugeMetricFamily(
            "intake_requests_waiting_first_contact",
            "Requests waiting for a first contact (new or in progress).",
        )
        open_requests.add_metric([], waiting)
        overdue_requests = GaugeMetricFamily(
            "intake_requests_overdue",
            "Requests waiting for a first contact past their reply-due time.",
        )
        overdue_requests.add_metric([], overdue)
        messages = GaugeMetricFamily(
            "intake_outbox_messages",
            "E-mail in the outbox not yet sent, by status (pending, sending, failed).",
            labels=["status"],
        )
        for status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED):
            messages.add_metric([status.value], depth.counts.get(status, 0))
        oldest = GaugeMetricFamily(
            "intake_outbox_oldest_pending_age_seconds",
            "How long the oldest message waiting to be sent has waited (0 when none waits).",
        )
        oldest.add_metric([], depth.waited_seconds(now))
        return [open_requests, overdue_requests, messages, oldest]
