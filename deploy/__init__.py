"""What production runs besides the app: the nginx configuration and `make cluster`."""
