"""What a service raises when it cannot do what was asked. The staff blueprint's one error
handler turns them into a page: not found into 404, refused into a message on the page the
person came from. Neither carries patient data: the message is shown to staff and may be
logged."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors below; caught in one place."""


class NotFound(DomainError, LookupError):
    """No such request (or other record)."""


class Refused(DomainError):
    """A change that cannot be made; the message says why, for the person who tried."""
