"""Who may see which staff page.

Every staff view carries one of these decorators (or ``public`` for the sign-in page);
tests walk the URL map and fail on any staff route without one.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for

from app.db import get_session
from app.models import StaffRole, StaffUser
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
    return redirect(url_for("staff.login", next=safe_next(target)))


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if "staff_id" in session and idle_expired():
            minutes = current_app.config["STAFF_IDLE_MINUTES"]
            end_session()
            flash(f"You were signed out after {minutes} minutes without activity.", "info")
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
