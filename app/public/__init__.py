"""The public side: the information page, the request form and its confirmation."""

from app.public.views import bp

__all__ = ["bp"]
