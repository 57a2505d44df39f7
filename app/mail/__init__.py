"""E-mail: building messages from the templates under templates/email/, SMTP, and the
worker that delivers the outbox (`flask outbox work`)."""
