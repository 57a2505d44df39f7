"""The benchmark (`make bench`): the app against a bare Flask app on the same gunicorn."""
