"""Who is acting: what every staff action needs to know about the person, and no more."""

from __future__ import annotations

from dataclasses import dataclass

from app.vocabulary import StaffRole


@dataclass(frozen=True, kw_only=True)
class Actor:
    staff_id: int
    role: StaffRole
    # Kept in the audit trail; None outside a web request (a command, a test).
    client_ip: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN
