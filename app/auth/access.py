"""Who may see which staff page.

Every staff view carries one of these decorators (or ``public`` for the sign-in page);
tests walk the URL map and fail on any staff route without one.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from app.accounts.staff_accounts import emergency_expired
from app.audit import trail
from app.common.actor import Actor
from app.common.time import now_utc
from app.db import get_session
from app.models import StaffRole, StaffUser
from app.requests import held_notes
from app.transactions import record_after_reading
from app.vocabulary import AuditAction

security_log = logging.getLogger("intake.security")

# What a staff sign-in keeps in the session: end_session() removes these and nothing else.
SESSION_KEYS = (
    "staff_id",
    "staff_nonce",
    "staff_seen",
    "staff_started",
    "staff_proved",
    "staff_via_provider",
)
# A session opened through the hospital's identity provider: sign-out offers its own.
VIA_PROVIDER = "staff_via_provider"
ACCESS_ATTRIBUTE = "staff_access"


def start_session(staff: StaffUser, nonce: str, *, keep_started: bool = False) -> None:
    # A fresh session on sign-in, so nothing set before it (by anyone) carries over.
    # (A password change keeps the session's start: it must not extend its lifetime.)
    started = session.get("staff_started") if keep_started else None
    session.clear()
    now = int(time.time())
    session["staff_id"] = staff.id
    session["staff_nonce"] = nonce
    session["staff_seen"] = now
    session["staff_started"] = started if isinstance(started, int) else now
    # Signing in is a proof of identity: an export right after needs no second one.
    session["staff_proved"] = now
    g.staff = staff


def end_session() -> None:
    """Forget the staff sign-in, and only that: the same browser may have the public
    form open in another tab, whose CSRF token lives in this session too."""
    for key in SESSION_KEYS:
        if key in session:
            session.pop(key)
    g.staff = None


def record_audit(**fields) -> None:
    """An audit entry written from a refusal, in a transaction of its own (nothing was
    changed; see record_after_reading). ``actor``, when there is one, says who and from
    where; otherwise the entry has this request's address."""
    address = client_ip()
    record_after_reading(lambda session: trail.record(session, client_ip=address, **fields))


def current_staff() -> StaffUser | None:
    """The signed-in staff member, or None. Loaded once per request."""
    if "staff" in g:
        return g.staff
    g.staff = None
    staff_id, nonce = session.get("staff_id"), session.get("staff_nonce")
    if isinstance(staff_id, int) and isinstance(nonce, str):
        staff = get_session().get(StaffUser, staff_id)
        if (
            staff is not None
            and staff.active
            and staff.session_nonce
            and hmac.compare_digest(staff.session_nonce, nonce)
            and not emergency_expired(get_session(), staff_id=staff.id, now=now_utc())
        ):
            g.staff = staff
    return g.staff


def idle_expired() -> bool:
    seen = session.get("staff_seen")
    limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
    return not isinstance(seen, int) or time.time() - seen > limit


def lifetime_expired() -> bool:
    """The absolute limit: hours since sign-in, however active the session has been."""
    started = session.get("staff_started")
    limit = current_app.config["STAFF_SESSION_HOURS"] * 3600
    return not isinstance(started, int) or time.time() - started > limit


def proof_is_recent() -> bool:
    proved = session.get("staff_proved")
    limit = current_app.config["STAFF_REAUTH_MINUTES"] * 60
    return isinstance(proved, int) and time.time() - proved <= limit


def mark_proved() -> None:
    session["staff_proved"] = int(time.time())


def safe_next(target: str | None) -> str | None:
    """Only paths inside the staff area: never another site, never a scheme."""
    if not target or not target.startswith("/staff/") or "//" in target or "\\" in target:
        return None
    return target


def _to_sign_in(*, staff_id: int | None = None):
    """Send the visitor to the sign-in page, on the record: the path only, never the
    query string. A session that ended (``staff_id``) is an event about an account and
    always goes in the audit trail. A visit with no session at all (a bookmark, a link, a
    scanner trying every path) goes to the log every time, but in the trail at most once
    per address (its /64 for IPv6) per minute: otherwise anyone could write chained
    entries, kept six years, as fast as they can send requests."""
    detail = f"{request.method} {request.path}"
    if staff_id is not None:
        record_audit(action=AuditAction.SIGN_IN_REQUIRED, staff_id=staff_id, detail=detail)
    else:
        security_log.info(
            "staff page without sign-in",
            extra={"event": AuditAction.SIGN_IN_REQUIRED.value, "detail": detail,
                   "client_ip": client_ip()},
        )  # fmt: skip
        throttle = current_app.extensions["sign_in_throttle"]
        if throttle.first_anonymous_visit(address=client_ip()):
            record_audit(action=AuditAction.SIGN_IN_REQUIRED, detail=detail)
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    reference = (request.view_args or {}).get("reference")
    if target is None and isinstance(reference, str):
        # A post about a request (a note, a move) comes back to that request.
        target = url_for("intake.request_detail", reference=reference)
    return redirect(url_for("auth.login", next=safe_next(target)))


# The fields a note arrives in: the request page's one box, and the older note form.
_NOTE_FIELDS = ("status_note", "note")


def _keep_late_note() -> bool:
    """A note posted just after the idle limit: keep it for its writer (issue 16).

    Only when the post is surely theirs: the session cookie still names an active account
    with its current nonce, and the CSRF token is valid. The note goes into the database
    (held_notes), never into the URL, the cookie or a log line.
    """
    reference = (request.view_args or {}).get("reference")
    note = next((request.form.get(f, "").strip() for f in _NOTE_FIELDS if request.form.get(f)), "")
    if request.method != "POST" or not note or not isinstance(reference, str):
        return False
    staff = current_staff()
    if staff is None:
        return False
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    # Its own transaction, begun by the write (see record_after_reading): the session is
    # about to end and the view will not run.
    staff_id = staff.id
    record_after_reading(
        lambda session: held_notes.hold(
            session,
            staff_id=staff_id,
            reference=reference,
            note=note,
            now=datetime.now(UTC),
        )
    )
    return True


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if "staff_id" in session and idle_expired():
            minutes = current_app.config["STAFF_IDLE_MINUTES"]
            kept = _keep_late_note()
            staff = current_staff()
            end_session()
            flash(f"You were signed out after {minutes} minutes without activity.", "info")
            if kept:
                flash("Your note was kept: sign in and it will be back in the note box.", "info")
            return _to_sign_in(staff_id=staff.id if staff else None)
        if "staff_id" in session and lifetime_expired():
            _record_session_expired()
            hours = current_app.config["STAFF_SESSION_HOURS"]
            end_session()
            flash(f"You were signed out: a session lasts at most {hours} hours.", "info")
            return _to_sign_in()
        if current_staff() is None:
            end_session()
            return _to_sign_in()
        session["staff_seen"] = int(time.time())
        return view(*args, **kwargs)

    setattr(wrapped, ACCESS_ATTRIBUTE, "staff")
    return wrapped


def _record_session_expired() -> None:
    if current_staff() is None:
        return
    record_audit(action=AuditAction.SESSION_EXPIRED, actor=current_actor())


def recent_proof_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A bulk export or an account change asks for the password or a code again when
    the last proof is older than STAFF_REAUTH_MINUTES. Goes inside login_required or
    admin_required (which declare who may use the view)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if proof_is_recent():
            return view(*args, **kwargs)
        return ask_for_proof()

    return wrapped


def ask_for_proof():
    """To the identity check, and back afterwards to where this started."""
    if request.method == "GET":
        back = request.full_path.rstrip("?")
    else:
        # A form's answer cannot be replayed after the detour: back to the page it came
        # from (only inside the staff area), to press the button again.
        back = _same_site_referrer()
    flash("Confirm it is you before you go on.", "info")
    return redirect(url_for("auth.confirm_identity", next=safe_next(back)), code=303)


def _same_site_referrer() -> str | None:
    referrer = request.referrer or ""
    prefix = request.host_url.rstrip("/")
    if referrer.startswith(prefix + "/"):
        return referrer[len(prefix) :]
    return None


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def check_role(*args, **kwargs):
        if g.staff.role != StaffRole.ADMIN:
            record_audit(
                action=AuditAction.ACCESS_DENIED,
                actor=current_actor(),
                detail=f"{request.method} {request.path} (admins only)",
            )
            abort(403)
        return view(*args, **kwargs)

    wrapped = login_required(check_role)
    setattr(wrapped, ACCESS_ATTRIBUTE, "admin")
    return wrapped


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks the few staff pages that anyone may reach (the sign-in page)."""
    setattr(view, ACCESS_ATTRIBUTE, "public")
    return view


def client_ip() -> str | None:
    return request.remote_addr


def current_actor() -> Actor:
    """The signed-in staff member as the services need them (behind login_required)."""
    staff = g.staff
    return Actor(staff_id=staff.id, role=staff.role, client_ip=client_ip())


def staff_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of the staff side (auth, intake, admin): under ``/staff``, with what
    every staff page's layout needs to warn before an idle session ends."""
    bp = Blueprint(name, import_name, url_prefix="/staff")
    bp.context_processor(_session_end)
    return bp


def _session_end() -> dict:
    """When an idle session ends, for the page to say so (with or without JavaScript)."""
    minutes = current_app.config["STAFF_IDLE_MINUTES"]
    return {
        "idle_seconds": minutes * 60,
        "session_ends": now_utc() + timedelta(minutes=minutes),
    }
