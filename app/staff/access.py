"""Who may see which staff page.

Every staff view carries one of these decorators (or ``public`` for the sign-in page);
tests walk the URL map and fail on any staff route without one.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from app.db import get_session
from app.models import StaffRole, StaffUser
from app.services import held_notes
from app.services.actor import Actor

ACCESS_ATTRIBUTE = "staff_access"


def start_session(staff: StaffUser, nonce: str) -> None:
    # A fresh session on sign-in, so nothing set before it (by anyone) carries over.
    session.clear()
    session["staff_id"] = staff.id
    session["staff_nonce"] = nonce
    session["staff_seen"] = int(time.time())
    g.staff = staff


def end_session() -> None:
    session.clear()
    g.staff = None


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
        ):
            g.staff = staff
    return g.staff


def idle_expired() -> bool:
    seen = session.get("staff_seen")
    limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
    return not isinstance(seen, int) or time.time() - seen > limit


def safe_next(target: str | None) -> str | None:
    """Only paths inside the staff area: never another site, never a scheme."""
    if not target or not target.startswith("/staff/") or "//" in target or "\\" in target:
        return None
    return target


def _to_sign_in():
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    reference = (request.view_args or {}).get("reference")
    if target is None and isinstance(reference, str):
        # A post about a request (a note, a move) comes back to that request.
        target = url_for("staff.request_detail", reference=reference)
    return redirect(url_for("staff.login", next=safe_next(target)))


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
    session_db = get_session()
    held_notes.hold(
        session_db,
        staff_id=staff.id,
        reference=reference,
        note=note,
        now=datetime.now(UTC),
    )
    session_db.commit()
    return True


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if "staff_id" in session and idle_expired():
            minutes = current_app.config["STAFF_IDLE_MINUTES"]
            kept = _keep_late_note()
            end_session()
            flash(f"You were signed out after {minutes} minutes without activity.", "info")
            if kept:
                flash("Your note was kept: sign in and it will be back in the note box.", "info")
            return _to_sign_in()
        if current_staff() is None:
            end_session()
            return _to_sign_in()
        session["staff_seen"] = int(time.time())
        return view(*args, **kwargs)

    setattr(wrapped, ACCESS_ATTRIBUTE, "staff")
    return wrapped


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def check_role(*args, **kwargs):
        if g.staff.role != StaffRole.ADMIN:
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
