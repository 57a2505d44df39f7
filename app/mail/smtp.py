"""Sending through an SMTP server with smtplib: STARTTLS and login from configuration.

Every failure is sorted into one of three kinds, because each is handled differently:
the server refused this message for good (5xx: record it, do not retry), refused it for
now (4xx: retry later, with backoff), or could not be reached or talked to at all (the
message is not at fault: it waits, with every other, until the server is back).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    timeout: float
    ca_file: str | None = None


class DeliveryError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Refused(DeliveryError):
    """5xx: the server will not take this message (often: no such address)."""


class TryLater(DeliveryError):
    """4xx: the server cannot take it now (greylisting, mailbox busy...)."""


class Unreachable(DeliveryError):
    """No usable conversation with the server: down, timing out, TLS or login failing."""


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}"


def _by_code(code: int, text: bytes | str) -> DeliveryError:
    answer = _answer(code, text)
    if 500 <= code < 600:
        return Refused(f"The mail server refused the message: {answer}")
    return TryLater(f"The mail server asked to try again later: {answer}")


class SmtpTransport:
    """One connection, kept open while there is work and reopened when it drops."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            connection.ehlo()
            if s.starttls:
                # Certificate and host name checked: never a silent fall back to plain text.
                context = ssl.create_default_context(cafile=s.ca_file)
                connection.starttls(context=context)
                connection.ehlo()
            if s.username:
                connection.login(s.username, s.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        if self._connection is None:
            try:
                self._connection = self._connect()
            except smtplib.SMTPAuthenticationError as exc:
                answer = _answer(exc.smtp_code, exc.smtp_error)
                raise Unreachable(f"Login refused: {answer}") from None
            except (smtplib.SMTPException, OSError) as exc:
                # Down, refusing connections, TLS failing or not offered: nothing to do
                # with any one message, so none of them is charged a try.
                raise Unreachable(f"Cannot talk to the mail server: {type(exc).__name__}") from None
        try:
            self._connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _by_code(code, text) from None
        except smtplib.SMTPNotSupportedError:
            # An address with non-ASCII letters, to a server without SMTPUTF8: it will
            # never take this one, whatever happens to the others.
            raise Refused(
                "The mail server does not accept addresses with non-ASCII letters (SMTPUTF8)."
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            # Any other answer out of turn (421 closing...): the conversation is no longer
            # trustworthy; start a new one for the next message.
            self.close()
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Lost in the middle of this message: charged as a temporary failure, so a
            # message that always breaks the connection cannot hold up the queue forever.
            self.close()
            raise TryLater(f"The connection broke while sending: {type(exc).__name__}") from None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()
