"""`make cluster`: the production topology on one machine.

nginx (Debian's package) with the shipped ``deploy/nginx.conf``, in front of two app hosts
(two gunicorn masters on their own ports, each with its own workers, as two machines would
run them), against the PostgreSQL and Redis already running here. It stops everything it
started when it is stopped (Ctrl-C or SIGTERM).

    python -m deploy.cluster

Settings (environment, all optional): ``CLUSTER_PORT`` (nginx, 8080), ``CLUSTER_HOST_PORTS``
(``8001,8002``), ``CLUSTER_QUICK_PORTS`` (each host's quick lane, ``8101,8102``),
``CLUSTER_WORKERS`` (per host, 2), ``CLUSTER_DATABASE_URL`` (the database
``intake_cluster`` on the local PostgreSQL; created and migrated if needed),
``CLUSTER_REDIS_URL`` (``redis://127.0.0.1:6379/0``), ``CLUSTER_DIR`` (logs, pid files, the
rendered nginx.conf and its cache: ``instance/cluster``), ``NGINX_BIN`` (``/usr/sbin/nginx``).

The tests (``tests/cluster/``) and the bench (``bench/cluster.py``) start the same cluster
through :class:`Cluster`, so what they prove is what this starts.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
ENSURE_NGINX = ROOT / "scripts" / "ensure-nginx.sh"
NGINX_BIN = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/intake_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PLACEHOLDERS = ("LISTEN", "APP_HOST_1", "APP_HOST_2", "APP_QUICK_1", "APP_QUICK_2", "STATIC_DIR")
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


class ClusterError(RuntimeError):
    """Something the cluster needs did not start; the message says what and where to look."""


def render_nginx_conf(
    *,
    listen: str,
    app_hosts: tuple[str, str],
    quick_hosts: tuple[str, str],
    static_dir: Path,
    template: str | None = None,
) -> str:
    """The shipped nginx.conf with its placeholders filled in, and nothing else changed."""
    text = template if template is not None else NGINX_CONF.read_text()
    values = {
        "LISTEN": listen,
        "APP_HOST_1": app_hosts[0],
        "APP_HOST_2": app_hosts[1],
        "APP_QUICK_1": quick_hosts[0],
        "APP_QUICK_2": quick_hosts[1],
        "STATIC_DIR": str(static_dir).rstrip("/"),
    }
    found = set(_PLACEHOLDER.findall(text))
    if found != set(PLACEHOLDERS):
        raise ClusterError(
            f"deploy/nginx.conf placeholders are {sorted(found)}, not {PLACEHOLDERS}"
        )
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_binary() -> str:
    """nginx, installed with apt-get first if it is missing and we may (scripts/ensure-nginx.sh)."""
    if not os.access(NGINX_BIN, os.X_OK):
        subprocess.run(["bash", str(ENSURE_NGINX)], check=False)  # noqa: S603, S607
    if not os.access(NGINX_BIN, os.X_OK):
        raise ClusterError(f"no nginx at {NGINX_BIN}: apt-get install nginx-light")
    return NGINX_BIN


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (a gunicorn master's workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces; the parent pid follows the closing ')'.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def get(port: int, path: str, timeout: float = 2.0) -> int | None:
    """The status of a GET, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@dataclass
class AppHost:
    """One app host: a gunicorn master on its own port, with its own workers."""

    name: str
    port: int
    env: dict[str, str] = field(repr=False)
    workdir: Path
    quick_port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def quick_address(self) -> str:
        return f"127.0.0.1:{self.quick_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def metrics_dir(self) -> Path:
        """This host's PROMETHEUS_MULTIPROC_DIR: each host counts on its own, as two
        machines would."""
        return self.workdir / f"{self.name}-metrics"

    def start(self, timeout: float = 60.0) -> None:
        env = {
            **self.env,
            "GUNICORN_BIND": self.address,
            "GUNICORN_QUICK_BIND": self.quick_address,
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
                + ["--pid", str(self.pid_path), "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C on `make cluster` reaches us, and we stop it.
                start_new_session=True,
            )
        workers = int(env.get("GUNICORN_WORKERS", "1"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClusterError(f"{self.name} exited at start; see {self.log_path}")
            if get(self.port, "/readyz") == 200 and len(self.worker_pids()) >= workers:
                return
            time.sleep(0.2)
        raise ClusterError(f"{self.name} not ready within {timeout:.0f}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def reload(self) -> None:
        """The zero-downtime code deploy (docs/production.md): SIGHUP to the master, which
        starts new workers on the new code and stops the old ones gracefully; the listening
        socket never closes."""
        os.kill(self.master_pid, signal.SIGHUP)

    def crash(self) -> None:
        """The host is lost: SIGKILL to the master and every worker, nothing graceful."""
        assert self.process is not None
        pids = [self.master_pid, *self.worker_pids()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        # The workers were the master's children; nobody else will reap them.
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in pids[1:]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)

    def stop(self) -> None:
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.crash()


@dataclass
class Nginx:
    port: int
    prefix: Path
    conf_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    @property
    def cache_dir(self) -> Path:
        return self.prefix / "cache" / "pages"

    def start(self, timeout: float = 20.0) -> None:
        for sub in ("logs", "temp", "cache"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        command = [nginx_binary(), "-p", f"{self.prefix}/", "-c", str(self.conf_path)]
        # Checked first, so a broken file is reported as such and not as a timeout.
        check = subprocess.run(  # noqa: S603
            [*command, "-t", "-q"], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise ClusterError(f"nginx rejects {self.conf_path}:\n{check.stderr}")
        # In the foreground, so that it is our child and stops with us.
        with (self.prefix / "logs" / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(  # noqa: S603
                [*command, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClusterError(f"nginx exited at start; see {self.error_log}")
            if get(self.port, "/healthz") == 200:
                return
            time.sleep(0.1)
        raise ClusterError(f"nginx did not answer within {timeout:.0f}s; see {self.error_log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGQUIT: finish the requests in hand, then exit.
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def app_env(
    *, database_url: str, redis_url: str, key_prefix: str, secret_key: str, workers: int
) -> dict[str, str]:
    """The production settings of docs/production.md, the same on both hosts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "FLASK_"))}
    env.update(
        APP_ENV="production",
        SECRET_KEY=secret_key,
        # Its own key, the same on both hosts, as docs/production.md asks.
        AUDIT_HASH_KEY=hashlib.sha256(f"audit:{secret_key}".encode()).hexdigest(),
        DATABASE_URL=database_url,
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=key_prefix,
        # deploy/nginx.conf is the one proxy, and it overwrites X-Forwarded-*.
        TRUSTED_PROXY_COUNT="1",
        TRUSTED_PROXIES="127.0.0.1",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        DEPLOY_HOSTS="2",
        GUNICORN_WORKERS=str(workers),
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_database(url: str) -> None:
    """Create the database if it is missing and migrate it to head: migrations run once,
    from one place, before any host starts (docs/production.md)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    config = AlembicConfig(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def flask_command(
    env: Mapping[str, str], *args: str, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """A `flask` command with a host's settings, as an operator on that host runs it."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "wsgi:app", *args],
        cwd=ROOT,
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Cluster:
    """nginx, two app hosts and (when the app has one) the outbox worker; ``with`` stops
    everything it started."""

    workdir: Path
    port: int
    host_ports: tuple[int, int]
    database_url: str = DEFAULT_DATABASE_URL
    # Each host's quick lane (GUNICORN_QUICK_BIND); free ports when not given.
    quick_ports: tuple[int, int] | None = None
    redis_url: str = DEFAULT_REDIS_URL
    workers: int = 2
    static_dir: Path = ROOT / "static"
    key_prefix: str = field(default_factory=lambda: f"intake-cluster-{secrets.token_hex(4)}")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    extra_env: dict[str, str] = field(default_factory=dict)
    hosts: list[AppHost] = field(default_factory=list)
    nginx: Nginx | None = None
    outbox: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return (
            app_env(
                database_url=self.database_url,
                redis_url=self.redis_url,
                key_prefix=self.key_prefix,
                secret_key=self.secret_key,
                workers=self.workers,
            )
            # Passkeys bound to the site, as production's must be; here plain http on
            # localhost, the one origin besides https that browsers allow them on.
            | {"WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGIN": f"http://localhost:{self.port}"}
            | self.extra_env
        )

    def start(self, *, check_deploy: bool = True) -> Cluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.env
        # The database exists before any deploy (check-deploy reads its max_connections).
        prepare_database(self.database_url)
        if check_deploy:
            # Step 1 of a deploy: the settings both hosts will run with are safe.
            result = flask_command(env, "check-deploy")
            if result.returncode != 0:
                raise ClusterError("check-deploy refused the settings:\n" + result.stdout)
        quick_ports = self.quick_ports or (_free_port(), _free_port())
        self.hosts = [
            AppHost(f"host{i + 1}", port, env, self.workdir, quick_ports[i])
            for i, port in enumerate(self.host_ports)
        ]
        try:
            for host in self.hosts:
                host.start()
            self._start_outbox(env)
            conf = render_nginx_conf(
                listen=f"127.0.0.1:{self.port}",
                app_hosts=(self.hosts[0].address, self.hosts[1].address),
                quick_hosts=(self.hosts[0].quick_address, self.hosts[1].quick_address),
                static_dir=self.static_dir,
            )
            prefix = self.workdir / "nginx"
            prefix.mkdir(exist_ok=True)
            conf_path = prefix / "nginx.conf"
            conf_path.write_text(conf)
            self.nginx = Nginx(self.port, prefix, conf_path)
            self.nginx.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_outbox(self, env: Mapping[str, str]) -> None:
        # The e-mail outbox worker (`flask outbox work`), when this code has it: one per
        # cluster, on the first host, counting its deliveries with that host's workers.
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(self.hosts[0].metrics_dir)}
        if flask_command(env, "outbox", "work", "--help").returncode == 0:
            with (self.workdir / "outbox.log").open("ab") as log:
                self.outbox = subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "flask", "--app", "wsgi:app", "outbox", "work"],
                    cwd=ROOT,
                    env=dict(env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def stop(self) -> None:
        """Stop everything this cluster started, nginx first (no new requests), then the
        hosts (each finishes what it holds), then the outbox worker."""
        if self.nginx is not None:
            self.nginx.stop()
        for host in self.hosts:
            host.stop()
        if self.outbox is not None and self.outbox.poll() is None:
            self.outbox.terminate()
            try:
                self.outbox.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.outbox.kill()
                self.outbox.wait(timeout=10)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _start_monitoring(cluster: Cluster):
    """Prometheus with the shipped deploy/prometheus.yml and alerts.yml in front of the
    cluster (deploy/monitoring.py), when Debian's packages are there; otherwise one line."""
    from deploy.monitoring import Monitoring, MonitoringError

    env = os.environ.get
    monitoring = Monitoring(
        workdir=cluster.workdir / "monitoring",
        app_hosts=(cluster.hosts[0].address, cluster.hosts[1].address),
        nginx_status_url=f"{cluster.url}/stub_status",
        ports=(
            int(env("CLUSTER_PROMETHEUS_PORT", "9090")),
            int(env("CLUSTER_NGINX_EXPORTER_PORT", "9113")),
            int(env("CLUSTER_NODE_EXPORTER_PORT", "9100")),
        ),
    )
    try:
        monitoring.start()
    except MonitoringError as error:
        print(f"No monitoring: {error}", flush=True)
        return None
    print(f"Prometheus: {monitoring.url} (alerts at {monitoring.url}/alerts)", flush=True)
    return monitoring


def main() -> int:
    env = os.environ.get
    host_ports = [int(p) for p in env("CLUSTER_HOST_PORTS", "8001,8002").split(",")]
    if len(host_ports) != 2:
        sys.exit("CLUSTER_HOST_PORTS must name two ports, e.g. 8001,8002")
    quick_ports = [int(p) for p in env("CLUSTER_QUICK_PORTS", "8101,8102").split(",")]
    if len(quick_ports) != 2:
        sys.exit("CLUSTER_QUICK_PORTS must name two ports, e.g. 8101,8102")
    cluster = Cluster(
        workdir=Path(env("CLUSTER_DIR", str(ROOT / "instance" / "cluster"))),
        port=int(env("CLUSTER_PORT", "8080")),
        host_ports=(host_ports[0], host_ports[1]),
        quick_ports=(quick_ports[0], quick_ports[1]),
        database_url=env("CLUSTER_DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=env("CLUSTER_REDIS_URL", DEFAULT_REDIS_URL),
        workers=int(env("CLUSTER_WORKERS", "2")),
    )
    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        cluster.start()
    except ClusterError as error:
        sys.exit(str(error))
    assert cluster.nginx is not None
    print(f"Cluster up: {cluster.url} (nginx) in front of", flush=True)
    for host in cluster.hosts:
        print(
            f"  {host.name}: http://{host.address} (quick lane http://{host.quick_address}), "
            f"master pid {host.master_pid}",
            flush=True,
        )
    monitoring = _start_monitoring(cluster)
    print(f"Logs: {cluster.workdir}. Deploy to a host: kill -HUP <master pid>. Ctrl-C stops.")
    try:
        while not stopping:
            time.sleep(0.5)
            if cluster.nginx.process and cluster.nginx.process.poll() is not None:
                print(f"nginx exited; see {cluster.nginx.error_log}", file=sys.stderr)
                return 1
    finally:
        print("Stopping the cluster", flush=True)
        if monitoring is not None:
            monitoring.stop()
        cluster.stop()
        shutil.rmtree(cluster.workdir / "nginx" / "temp", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
