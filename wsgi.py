"""The WSGI entry point: ``gunicorn wsgi:app``."""

import sys

from app import create_app
from config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One line naming the setting, not a traceback: this is what ops read first.
    sys.exit(f"Configuration error: {error}")
