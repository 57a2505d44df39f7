"""The private page of a request (issue 29): where it stands, how to reach the person,
records to send or a release to sign. For anyone holding the link and the date of birth."""

from app.patient.views import bp

__all__ = ["bp"]
