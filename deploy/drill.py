"""`make drill`: the backups are restored, and nothing acknowledged is missing.

**PostgreSQL** (production): a throwaway PostgreSQL cluster of its own (never the shared
server), archiving its WAL continuously with pgBackRest, as docs/operations.md sets up
production. The app runs against it under gunicorn with its outbox worker and a real SMTP
server, and browsers keep sending requests through the journey the whole time. Under that
load: a full base backup, more requests, the recovery point (a moment in time), more
requests, then the cluster is given up. pgBackRest restores the backup into a fresh data
directory and PostgreSQL replays the archived WAL up to the recovery point. Then:

- every request whose confirmation a browser received before the recovery point is in the
  restored database (one acknowledged after it may or may not be: it is after the point);
- ``flask audit verify`` verifies the audit trail's hash chain;
- the outbox worker, started on the restored database, sends every message that was still
  waiting there exactly once, and nothing the restored database records as sent; the
  messages the lost minutes after the recovery point had already sent go again with the
  same Message-ID (mail programs show them once), and the drill counts them;
- the app starts on it (``/readyz``) and takes a new request.

**SQLite** (the single-host default): the same load, ``flask intake backup-sqlite`` while
the app serves, more requests, then the copy is put in place of the lost file and
checked the same way, the recovery point being the moment the copy was taken.

It prints the recovery point and how long the restore took. ``make drill`` runs both;
tests/ops/test_backup_drill.py runs the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from app.requests.fields import STEPS, step_form_fields
from bench.load import Browser, answers, encode

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
ENSURE_PGBACKREST = ROOT / "scripts" / "ensure-pgbackrest.sh"
STANZA = "drill"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')
_RECEIVED = re.compile(r"/request-appointment/received/([A-Z0-9]+)$")
_MESSAGE_TOKEN = re.compile(r"<outbox\.([A-Za-z0-9_-]+)@")
_SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


class DrillFailed(AssertionError):
    """A check of the drill did not hold; the message says which."""


def _as_postgres(*command: str) -> list[str]:
    """PostgreSQL and pgBackRest refuse to run as root: as root, run them as postgres."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(
    command: list[str], *, env: dict | None = None, timeout: float = 120, stdin: str | None = None
) -> str:
    done = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        input=stdin,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise DrillFailed(f"{' '.join(command[:6])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# -- the report ---------------------------------------------------------------------------


@dataclass
class Report:
    backend: str
    recovery_point: datetime
    restore_seconds: float
    confirmed_before: int
    confirmed_after: int
    restored_requests: int
    audit: str
    mail_waiting_at_restore: int
    mail_sent_again_after_point: int
    new_request: str

    def lines(self) -> list[str]:
        return [
            f"{self.backend}: recovery point {self.recovery_point.isoformat()}",
            f"  restore took {self.restore_seconds:.2f} s",
            f"  {self.confirmed_before} requests confirmed before the recovery point: "
            "every one restored",
            f"  {self.confirmed_after} confirmed after it (after the point: not promised); "
            f"{self.restored_requests} requests in the restored database",
            f"  audit trail: {self.audit}",
            f"  outbox resumed: {self.mail_waiting_at_restore} waiting message(s) sent once "
            "each, none that the restored database had sent; "
            f"{self.mail_sent_again_after_point} sent after the recovery point went again "
            "with the same Message-ID",
            f"  the app serves the restored database: new request {self.new_request}",
        ]


# -- a mail server that keeps what it is sent ---------------------------------------------


class MailSink:
    """aiosmtpd on a free port: every message's outbox token, in the order received. It
    takes a fifth of a second per message, slower than the requests arrive, so that mail
    is always waiting at the recovery point and the drill sees the outbox resume."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = _free_port()
        self.lock = threading.Lock()
        self.tokens: list[str] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
                await asyncio.sleep(0.2)
                message = message_from_bytes(envelope.content, policy=policy.default)
                match = _MESSAGE_TOKEN.search(str(message["Message-ID"]))
                with sink.lock:
                    sink.tokens.append(match.group(1) if match else "?")
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def received(self) -> list[str]:
        with self.lock:
            return list(self.tokens)

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


# -- the app under load ---------------------------------------------------------------------


def app_env(database_url: str, mail: MailSink, workdir: Path) -> dict[str, str]:
    secret = hashlib.sha256(f"drill:{workdir}".encode()).hexdigest()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "FLASK_"))}
    env.update(
        APP_ENV="development",
        DATABASE_URL=database_url,
        SECRET_KEY=secret,
        # The same key before and after the restore, as production keeps it.
        AUDIT_HASH_KEY=hashlib.sha256(f"audit:{secret}".encode()).hexdigest(),
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(mail.port),
        SMTP_STARTTLS="off",
        OUTBOX_POLL_SECONDS="1",
        # A message being sent at the recovery point is taken again once its lease runs
        # out (production: OUTBOX_LEASE_SECONDS, 300): short here, the sink answers at once.
        OUTBOX_LEASE_SECONDS="3",
        FORM_RATE_LIMIT="100000 per hour",
        DRAFT_RATE_LIMIT="100000 per hour",
        GUNICORN_WORKERS="2",
        GUNICORN_MAX_REQUESTS="0",
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def flask(env: dict, *args: str, timeout: float = 120, stdin: str | None = None) -> str:
    return _run(
        [sys.executable, "-m", "flask", "--app", "wsgi:app", *args],
        env=env,
        timeout=timeout,
        stdin=stdin,
    )


def add_staff(env: dict, n: int) -> None:
    """An account made by an admin's command: an entry in the audit trail's hash chain, so
    the chain has entries on both sides of the backup and of the recovery point."""
    flask(
        env,
        "staff", "create", f"drill.{n}@example.org", "--name", f"Drill Coordinator {n}",
        "--role", "intake",
        stdin="drill coordinator password 2026\n",
    )  # fmt: skip


@contextlib.contextmanager
def serving(env: dict, workdir: Path, name: str) -> Iterator[int]:
    """gunicorn and the outbox worker on the database in ``env``; yields the port."""
    port = _free_port()
    processes = []
    with (workdir / f"{name}.log").open("ab") as log:
        for command in (
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            [sys.executable, "-m", "flask", "--app", "wsgi:app", "outbox", "work"],
        ):
            processes.append(
                subprocess.Popen(  # noqa: S603
                    command,
                    cwd=ROOT,
                    env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while _status(port, "/readyz") != 200:
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise DrillFailed(f"the app did not start; see {workdir / (name + '.log')}")
            time.sleep(0.2)
        yield port
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _status(port: int, path: str) -> int:
    try:
        return Browser("127.0.0.1", port).request("GET", path)[0]
    except OSError:
        return 0  # not listening yet


def send_request(port: int, n: int) -> str | None:
    """One request through the journey as a browser sends it; its reference once the
    confirmation is received, else None."""
    browser = Browser("127.0.0.1", port)
    reply = browser.request("GET", "/request-appointment")
    data = answers(n)
    for step in STEPS:
        csrf = _CSRF.search(reply[2].decode())
        posted = {k: data[k] for k in step_form_fields(step) if k in data}
        if csrf:
            posted["csrf_token"] = csrf.group(1)
        reply = browser.request(
            "POST", f"/request-appointment/{step.value}", encode(posted), headers=_SAME_ORIGIN
        )
        while reply[0] in (302, 303):
            reply = browser.request("GET", urllib.parse.urlsplit(reply[1]["location"]).path)
        if reply[0] != 200:
            return None
    html = reply[2].decode()
    csrf, token = _CSRF.search(html), _FORM_TOKEN.search(html)
    if not csrf or not token:
        return None
    send = encode({"csrf_token": csrf.group(1), "form_token": token.group(1)})
    status, headers, _ = browser.request("POST", "/request-appointment/check", send)
    match = _RECEIVED.search(headers.get("location", ""))
    return match.group(1) if status == 303 and match else None


@dataclass
class Load:
    """Browsers sending requests one after another, each reference kept with the moment
    its confirmation arrived."""

    port: int
    browsers: int = 2
    confirmed: list[tuple[float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.counter = 0
        self.threads = [
            threading.Thread(target=self._loop, daemon=True) for _ in range(self.browsers)
        ]

    def _loop(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.counter += 1
                n = self.counter
            try:
                reference = send_request(self.port, n)
            except OSError as error:
                reference = None
                self.errors.append(repr(error))
            if reference:
                with self.lock:
                    self.confirmed.append((time.time(), reference))

    def count(self) -> int:
        with self.lock:
            return len(self.confirmed)

    def wait_for(self, more: int, timeout: float = 60) -> None:
        target = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < target:
            if time.monotonic() > deadline:
                raise DrillFailed(
                    f"the load stalled at {self.count()} requests: {self.errors[-3:]}"
                )
            time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


# -- checking a restored database -------------------------------------------------------------


def _engine(database_url: str):
    from sqlalchemy import create_engine

    return create_engine(database_url)


def _references(database_url: str) -> set[str]:
    from sqlalchemy import text

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT reference FROM appointment_requests")))
    finally:
        engine.dispose()


def _outbox(database_url: str) -> dict[str, str]:
    """token -> status."""
    from sqlalchemy import text

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT token, status FROM outbox_messages")).all())
    finally:
        engine.dispose()


def check_restored(
    *,
    backend: str,
    env: dict,
    workdir: Path,
    mail: MailSink,
    load: Load,
    recovery_point: float,
    restore_seconds: float,
) -> Report:
    database_url = env["DATABASE_URL"]
    before = [ref for at, ref in load.confirmed if at <= recovery_point]
    after = [ref for at, ref in load.confirmed if at > recovery_point]
    restored = _references(database_url)
    missing = sorted(set(before) - restored)
    if missing:
        raise DrillFailed(f"{len(missing)} confirmed requests are not restored: {missing[:5]}")
    audit = flask(env, "audit", "verify").strip().splitlines()[-1]
    # The outbox, as the restored database left it, then resumed.
    at_restore = _outbox(database_url)
    known_sent = {token for token, status in at_restore.items() if status == "sent"}
    waiting = {token for token, status in at_restore.items() if status != "sent"}
    sent_before_restore = set(mail.received())
    already = len(mail.received())
    with serving(env, workdir, f"{backend}-restored") as port:
        new_request = send_request(port, 10_000_000)
        if new_request is None:
            raise DrillFailed("the app on the restored database did not take a new request")
        deadline = time.monotonic() + 60
        while True:
            statuses = _outbox(database_url)
            if all(status == "sent" for status in statuses.values()):
                break
            if time.monotonic() > deadline:
                raise DrillFailed(f"the outbox did not resume: {sorted(set(statuses.values()))}")
            time.sleep(0.3)
    resumed = mail.received()[already:]
    again = [token for token in resumed if token in known_sent]
    if again:
        raise DrillFailed(f"{len(again)} messages the restored database had sent went again")
    twice = {token for token in resumed if resumed.count(token) > 1}
    if twice:
        raise DrillFailed(f"{len(twice)} messages were sent twice after the restore")
    unsent = waiting - set(resumed)
    if unsent:
        raise DrillFailed(f"{len(unsent)} waiting messages were never sent after the restore")
    return Report(
        backend=backend,
        recovery_point=datetime.fromtimestamp(recovery_point, UTC),
        restore_seconds=restore_seconds,
        confirmed_before=len(before),
        confirmed_after=len(after),
        restored_requests=len(restored),
        audit=audit,
        mail_waiting_at_restore=len(waiting),
        mail_sent_again_after_point=len(waiting & sent_before_restore),
        new_request=new_request,
    )


def _migrate(env: dict) -> None:
    _run([sys.executable, "-m", "alembic", "upgrade", "head"], env=env)


# -- PostgreSQL with pgBackRest ---------------------------------------------------------------


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster of the drill's own (never the shared server)."""

    data: Path
    sockets: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, *options: str) -> None:
        settings = " ".join(
            [f"-p {self.port}", f"-k {self.sockets}", "-c listen_addresses=127.0.0.1", *options]
        )
        _run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "120",
                "-o", settings, "-l", str(self.data.parent / f"{self.data.name}.log"), "start",
            )
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(DrillFailed):
            _run(
                _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")
            )

    def sql(self, statement: str) -> str:
        return _run(
            _as_postgres(
                str(PG_BIN / "psql"), "-h", str(self.sockets), "-p", str(self.port),
                "-U", "postgres", "-d", "postgres", "-At", "-c", statement,
            )
        ).strip()  # fmt: skip


def pgbackrest_binary() -> str:
    if shutil.which("pgbackrest") is None:
        subprocess.run(["bash", str(ENSURE_PGBACKREST)], check=False)  # noqa: S603, S607
    found = shutil.which("pgbackrest")
    if found is None:
        raise DrillFailed("no pgbackrest: apt-get install pgbackrest")
    return found


def postgres_drill(workdir: Path, *, log=print) -> Report:
    pgbackrest = pgbackrest_binary()
    base = workdir / "postgres"
    for name in ("repo", "log", "lock", "spool", "sock"):
        (base / name).mkdir(parents=True, exist_ok=True)
    primary = Postgres(base / "data", base / "sock", _free_port())
    conf = base / "pgbackrest.conf"
    # What docs/operations.md gives production, with this drill's paths.
    conf.write_text(
        "[global]\n"
        f"repo1-path={base / 'repo'}\n"
        "repo1-retention-full=2\n"
        "start-fast=y\n"
        "compress-type=lz4\n"
        f"log-path={base / 'log'}\n"
        f"lock-path={base / 'lock'}\n"
        f"spool-path={base / 'spool'}\n"
        "log-level-console=warn\n"
        "log-level-file=off\n"
        f"\n[{STANZA}]\n"
        f"pg1-path={primary.data}\n"
        f"pg1-port={primary.port}\n"
        f"pg1-socket-path={primary.sockets}\n"
    )
    if os.geteuid() == 0:
        for path in [workdir, base, *base.rglob("*")]:
            shutil.chown(path, "postgres")
    backrest = [pgbackrest, f"--config={conf}", f"--stanza={STANZA}"]
    _run(
        _as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(primary.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
    )
    with (primary.data / "postgresql.conf").open("a") as settings:
        settings.write(
            "\n# The drill: WAL archived continuously with pgBackRest (docs/operations.md).\n"
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = '{' '.join(backrest)} archive-push %p'\n"
            "max_wal_senders = 3\n"
            # A throwaway cluster: speed over surviving a power cut.
            "fsync = off\n"
        )
    primary.start()
    try:
        _run(_as_postgres(*backrest, "stanza-create"))
        _run(_as_postgres(*backrest, "check"))
        with MailSink() as mail:
            env = app_env(primary.url, mail, workdir)
            _migrate(env)
            with serving(env, workdir, "postgres") as port, Load(port) as load:
                add_staff(env, 1)
                load.wait_for(5)
                log("postgres: base backup under load")
                _run(_as_postgres(*backrest, "backup", "--type=full"), timeout=300)
                add_staff(env, 2)
                load.wait_for(5)
                recovery_point = time.time()
                add_staff(env, 3)
                load.wait_for(5)
            # The outbox worker has stopped with the app: its last sends are after the point.
            switched = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
            _wait_archived(primary, switched)
            primary.stop("immediate")
            log("postgres: restoring to the recovery point into a new cluster")
            restored = Postgres(base / "restored", base / "sock", _free_port())
            started = time.monotonic()
            target = datetime.fromtimestamp(recovery_point, UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            _run(
                _as_postgres(
                    *backrest, f"--pg1-path={restored.data}", "restore", "--type=time",
                    f"--target={target}", "--target-action=promote",
                ),
                timeout=300,
            )  # fmt: skip
            # No archiving from the copy: the drill keeps the repository as the lost
            # cluster left it (production points the restored cluster at it again).
            restored.start("-c archive_mode=off")
            _wait_promoted(restored)
            restore_seconds = time.monotonic() - started
            try:
                env = app_env(restored.url, mail, workdir)
                _migrate(env)
                return check_restored(
                    backend="postgres",
                    env=env,
                    workdir=workdir,
                    mail=mail,
                    load=load,
                    recovery_point=recovery_point,
                    restore_seconds=restore_seconds,
                )
            finally:
                restored.stop("immediate")
    finally:
        primary.stop("immediate")


def _wait_archived(primary: Postgres, walfile: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = primary.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        if last >= walfile:
            return
        time.sleep(0.2)
    raise DrillFailed(f"WAL {walfile} was not archived within {timeout:.0f}s")


def _wait_promoted(cluster: Postgres, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(DrillFailed):
            if cluster.sql("SELECT pg_is_in_recovery()") == "f":
                return
        time.sleep(0.2)
    raise DrillFailed("the restored cluster did not finish recovery")


# -- SQLite ------------------------------------------------------------------------------------


def sqlite_drill(workdir: Path, *, log=print) -> Report:
    base = workdir / "sqlite"
    base.mkdir(parents=True, exist_ok=True)
    live = base / "intake.sqlite3"
    copy = base / "backup.sqlite3"
    with MailSink() as mail:
        env = app_env(f"sqlite:///{live}", mail, workdir)
        _migrate(env)
        with serving(env, workdir, "sqlite") as port, Load(port) as load:
            add_staff(env, 1)
            load.wait_for(5)
            log("sqlite: flask intake backup-sqlite while serving")
            said = flask(env, "intake", "backup-sqlite", str(copy))
            # The moment the copy was taken: every commit before it is in the copy.
            taken = re.search(r"as it was at (\S+) ", said)
            if not taken:
                raise DrillFailed(f"backup-sqlite said: {said}")
            recovery_point = datetime.fromisoformat(taken.group(1)).timestamp()
            add_staff(env, 2)
            load.wait_for(5)
        # The file is lost; the copy (checked when it was taken) goes in its place, and
        # the app starts on it (docs/operations.md, Backups).
        started = time.monotonic()
        for path in base.glob("intake.sqlite3*"):
            path.unlink()
        shutil.copyfile(copy, live)
        restore_seconds = time.monotonic() - started
        return check_restored(
            backend="sqlite",
            env=env,
            workdir=workdir,
            mail=mail,
            load=load,
            recovery_point=recovery_point,
            restore_seconds=restore_seconds,
        )


def run(*, backends: tuple[str, ...] = ("postgres", "sqlite"), log=print) -> list[Report]:
    workdir = Path(tempfile.mkdtemp(prefix="intake-drill-"))
    workdir.chmod(0o755)
    reports = []
    for backend in backends:
        drill = postgres_drill if backend == "postgres" else sqlite_drill
        try:
            report = drill(workdir, log=log)
        except BaseException:
            # Kept for the post-mortem: the app's, PostgreSQL's and pgBackRest's logs.
            log(f"The drill's files are kept in {workdir}")
            raise
        for line in report.lines():
            log(line)
        reports.append(report)
    shutil.rmtree(workdir, ignore_errors=True)
    return reports


def main() -> int:
    try:
        run()
    except DrillFailed as failure:
        print(f"DRILL FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
