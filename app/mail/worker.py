"""The outbox worker: claims due messages one at a time and delivers them.

Runs until told to stop (SIGTERM or SIGINT): the message in hand is finished and settled
first. Several may run at once, on one host or many (see app/mail/outbox.py for how a
message is claimed by exactly one). Each loop also queues the intake alert when one is due
and, once an hour, removes addresses and bodies past the keeping period.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from flask import Flask
from jinja2 import TemplateError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.common import metrics
from app.mail import messages, outbox
from app.mail.smtp import Refused, SmtpSettings, SmtpTransport, TryLater, Unreachable

log = logging.getLogger("app.mail.worker")

_ALERT_CHECK_SECONDS = 15
_PURGE_EVERY_SECONDS = 3600
_BACKOFF_START = 1.0


def hash_key(app: Flask) -> bytes:
    """The key of the recipients' hashes, derived from SECRET_KEY (never the key itself)."""
    return hashlib.sha256(b"outbox-recipient-hash:" + app.config["SECRET_KEY"].encode()).digest()


def mail_settings(app: Flask) -> messages.MailSettings:
    c = app.config
    return messages.MailSettings(
        sender=c["MAIL_SENDER"],
        center_name=c["CENTER_NAME"],
        center_phone=c["CENTER_PHONE"],
        callback_phone=c["CENTER_CALLBACK_PHONE"] or c["CENTER_PHONE"],
        reply_days=c["REPLY_BUSINESS_DAYS"],
        public_url=c["PUBLIC_SITE_URL"] or c["SITE_URL"],
    )


def smtp_settings(app: Flask) -> SmtpSettings | None:
    c = app.config
    if not c.get("SMTP_HOST"):
        return None
    return SmtpSettings(
        host=c["SMTP_HOST"],
        port=c["SMTP_PORT"],
        username=c.get("SMTP_USERNAME"),
        password=c.get("SMTP_PASSWORD"),
        starttls=c["SMTP_STARTTLS"],
        timeout=c["SMTP_TIMEOUT"],
        ca_file=c.get("SMTP_CA_FILE"),
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


class Worker:
    def __init__(self, app: Flask, *, stop: threading.Event | None = None):
        self.app = app
        self.stop = stop or threading.Event()
        self.key = hash_key(app)
        self.settings = mail_settings(app)
        smtp = smtp_settings(app)
        self.transport = SmtpTransport(smtp) if smtp else None
        c = app.config
        self.lease = timedelta(seconds=c["OUTBOX_LEASE_SECONDS"])
        self.max_attempts = c["OUTBOX_MAX_ATTEMPTS"]
        self.retry_base = timedelta(seconds=c["OUTBOX_RETRY_SECONDS"])
        self.retry_cap = timedelta(seconds=c["OUTBOX_RETRY_MAX_SECONDS"])
        self.poll = c["OUTBOX_POLL_SECONDS"]
        self.batch_size = max(1, c["OUTBOX_BATCH_SIZE"])
        self._backoff = 0.0
        self._next_alert_check = 0.0
        self._next_purge = 0.0

    def _session(self) -> Session:
        # The write sessionmaker: on SQLite each transaction takes the write lock up front.
        return self.app.extensions["db_write_sessionmaker"]()

    # The loop --------------------------------------------------------------------------

    def run(self) -> None:
        log.info("outbox worker started", extra={"smtp": self.transport is not None})
        try:
            while not self.stop.is_set():
                try:
                    self.housekeeping()
                    sent = self.deliver_due()
                except DBAPIError:
                    # The database is away (restart, failover): wait and try again.
                    log.warning("outbox worker: database unavailable", exc_info=True)
                    sent = 0
                    self._wait_after_trouble()
                if not sent and not self.stop.is_set():
                    self.stop.wait(self._backoff or self.poll)
        finally:
            if self.transport:
                self.transport.close()
            log.info("outbox worker stopped")

    def housekeeping(self) -> None:
        clock = time.monotonic()
        if clock >= self._next_alert_check:
            self._next_alert_check = clock + min(
                _ALERT_CHECK_SECONDS, self.app.config["INTAKE_ALERT_MINUTES"] * 60
            )
            self.queue_alert()
        if clock >= self._next_purge:
            self._next_purge = clock + _PURGE_EVERY_SECONDS
            self.purge()

    def deliver_due(self, limit: int | None = None) -> int:
        """Deliver due messages until none is left (or ``limit``, or a stop, or the mail
        server is unreachable). Returns how many were settled (sent, retried, failed).

        One session (one connection) for the whole burst, a commit after each message:
        a message is marked sent as soon as the server has it."""
        settled = 0
        with self._session() as session:
            try:
                while not self.stop.is_set() and (limit is None or settled < limit):
                    size = self.batch_size if limit is None else min(self.batch_size, limit)
                    batch = outbox.claim_batch(session, now=now_utc(), lease=self.lease, limit=size)
                    session.commit()
                    log.debug("outbox claim", extra={"claimed": len(batch)})
                    if not batch:
                        break
                    done, reachable = self._deliver_batch(session, batch)
                    settled += done
                    if not reachable:
                        break
            finally:
                # Kept open through a burst, closed when the queue is empty: mail servers
                # drop idle connections anyway.
                if self.transport:
                    self.transport.close()
        return settled

    def _deliver_batch(self, session: Session, batch: list[outbox.Claimed]) -> tuple[int, bool]:
        done = 0
        lease_until = now_utc() + self.lease
        for index, claimed in enumerate(batch):
            if self.stop.is_set():
                self._hand_back(session, batch[index:])
                return done, True
            outcome = self._deliver(session, claimed)
            if now_utc() > lease_until - self.lease / 2:
                # Half the lease gone: the rest of the batch stays ours a while longer.
                lease_until = now_utc() + self.lease
                outbox.extend_lease(session, claim_token=claimed.claim_token, until=lease_until)
            session.commit()
            metrics.count_outbox_delivery(claimed.kind, outcome)
            if outcome == "unreachable":
                self._hand_back(session, batch[index + 1 :])
                return done, False
            done += 1
        return done, True

    def _hand_back(self, session: Session, rest: list[outbox.Claimed]) -> None:
        for claimed in rest:
            outbox.release(session, claimed=claimed)
        session.commit()

    def _deliver(self, session: Session, claimed: outbox.Claimed) -> str:
        now = now_utc()
        hashed = (
            outbox.recipient_hash(claimed.recipient, key=self.key) if claimed.recipient else None
        )
        try:
            if not claimed.recipient or claimed.payload is None:
                raise messages.MessageRefused("its address or body was removed")
            message = messages.build(
                kind=claimed.kind,
                locale=claimed.locale,
                token=claimed.token,
                recipient=claimed.recipient,
                payload=claimed.payload,
                created_at=claimed.created_at,
                settings=self.settings,
            )
        except (messages.MessageRefused, TemplateError, KeyError, ValueError, TypeError) as exc:
            reason = f"The message could not be built: {exc}"
            outbox.mark_failed(session, claimed=claimed, now=now, reason=reason, hashed=hashed)
            log.error(
                "outbox message failed",
                extra={**self._fields(claimed, hashed), "reason": outbox.safe_reason(reason)},
            )
            return "failed"

        if self.transport is None:
            # No SMTP configured (development): say what would happen, never to whom.
            log.info(
                f"would send to {hashed}: {claimed.kind.value} {message['Message-ID']}",
                extra=self._fields(claimed, hashed),
            )
            outbox.mark_sent(session, claimed=claimed, now=now, hashed=hashed)
            return "sent"

        # The envelope from the parsed headers: exactly the one address each was checked to be.
        sender = message["From"].addresses[0].addr_spec
        recipient = message["To"].addresses[0].addr_spec
        try:
            self.transport.send(message, sender=sender, recipient=recipient)
        except Refused as exc:
            outbox.mark_failed(session, claimed=claimed, now=now, reason=exc.reason, hashed=hashed)
            log.warning("outbox message refused", extra=self._fields(claimed, hashed))
            return "failed"
        except TryLater as exc:
            again = outbox.mark_retry(
                session,
                claimed=claimed,
                now=now,
                reason=exc.reason,
                hashed=hashed,
                max_attempts=self.max_attempts,
                base=self.retry_base,
                cap=self.retry_cap,
            )
            log.warning(
                "outbox message deferred" if again else "outbox message gave up",
                extra=self._fields(claimed, hashed),
            )
            return "retry" if again else "failed"
        except Unreachable as exc:
            outbox.release(session, claimed=claimed, reason=exc.reason)
            log.warning(
                "outbox: mail server unreachable",
                extra={"reason": outbox.safe_reason(exc.reason)},
            )
            self._wait_after_trouble()
            return "unreachable"
        self._backoff = 0.0
        outbox.mark_sent(session, claimed=claimed, now=now, hashed=hashed)
        log.info("outbox message sent", extra=self._fields(claimed, hashed))
        return "sent"

    def _wait_after_trouble(self) -> None:
        # Doubles up to a minute while the server stays away; reset by the next success.
        self._backoff = min(60.0, max(_BACKOFF_START, self._backoff * 2))

    @staticmethod
    def _fields(claimed: outbox.Claimed, hashed: str | None) -> dict:
        return {
            "outbox_id": claimed.id,
            "kind": claimed.kind.value,
            "recipient_hash": hashed,
            "attempt": claimed.attempts + 1,
        }

    # Alerts and purge ------------------------------------------------------------------

    def queue_alert(self) -> None:
        c = self.app.config
        mailbox = c.get("INTAKE_MAILBOX")
        if not mailbox:
            return
        with self._session() as session:
            counts = outbox.queue_intake_alert(
                session,
                recipient=mailbox,
                now=now_utc(),
                every=timedelta(minutes=c["INTAKE_ALERT_MINUTES"]),
                queue_url=c["SITE_URL"].rstrip("/") + "/staff/queue",
            )
            session.commit()
        if counts:
            log.info("intake alert queued", extra={"arrived": counts.arrived})

    def purge(self) -> int:
        with self._session() as session:
            removed = outbox.purge(
                session,
                older_than=now_utc() - timedelta(days=self.app.config["OUTBOX_KEEP_DAYS"]),
                key=self.key,
            )
            session.commit()
        if removed:
            log.info("outbox purge", extra={"messages": removed})
        return removed
