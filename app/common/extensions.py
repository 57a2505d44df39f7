"""Flask extensions, created here unbound and attached to the app in the factory."""

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
