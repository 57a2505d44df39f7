"""Prometheus and its exporters in front of `make cluster`, with the shipped files.

``deploy/prometheus.yml`` and ``deploy/alerts.yml`` are what production runs; this fills
in their placeholders for the cluster's ports and starts Debian's ``prometheus``,
``prometheus-nginx-exporter`` (reading nginx's ``/stub_status``) and
``prometheus-node-exporter`` on free ports of this machine. ``make cluster`` starts it
beside the cluster when the packages are there (scripts/ensure-prometheus.sh), and
tests/cluster/test_monitoring.py starts it once per test session.

Two things may be changed for a test, and nothing else: how often Prometheus scrapes and
evaluates (``interval``), and every alert's ``for:`` (``alert_after``), so that a test can
see a host-down alert fire in seconds. ``promtool test rules`` proves the real durations
(tests/ops/alerts_test.yml).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_CONF = ROOT / "deploy" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "alerts.yml"
ENSURE = ROOT / "scripts" / "ensure-prometheus.sh"
PLACEHOLDERS = ("APP_HOST_1", "APP_HOST_2", "NGINX_EXPORTER", "NODE_EXPORTERS")
BINARIES = ("prometheus", "promtool", "prometheus-nginx-exporter", "prometheus-node-exporter")
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
_INTERVALS = re.compile(r"(scrape_interval|evaluation_interval|scrape_timeout): \S+")


class MonitoringError(RuntimeError):
    """Something the monitoring needs is missing or did not start; the message says what."""


def binaries() -> dict[str, str]:
    """Where each program is, installed first when missing and we may."""
    if any(shutil.which(name) is None for name in BINARIES):
        subprocess.run(["bash", str(ENSURE)], check=False)  # noqa: S603, S607
    found = {name: shutil.which(name) for name in BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MonitoringError(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    return {name: str(path) for name, path in found.items()}


def render_prometheus_conf(
    *,
    app_hosts: tuple[str, str],
    nginx_exporter: str,
    node_exporters: list[str],
    interval: str | None = None,
    template: str | None = None,
) -> str:
    """The shipped prometheus.yml with its placeholders filled in; with ``interval``, that
    scrape and evaluation interval (and a scrape timeout no longer than it)."""
    text = template if template is not None else PROMETHEUS_CONF.read_text()
    values = {
        "APP_HOST_1": app_hosts[0],
        "APP_HOST_2": app_hosts[1],
        "NGINX_EXPORTER": nginx_exporter,
        "NODE_EXPORTERS": ", ".join(f'"{target}"' for target in node_exporters),
    }
    found = set(_PLACEHOLDER.findall(text.split("\nglobal:", 1)[1]))
    if found != set(PLACEHOLDERS):
        raise MonitoringError(
            f"prometheus.yml placeholders are {sorted(found)}, not {PLACEHOLDERS}"
        )
    head, body = text.split("\nglobal:", 1)
    body = _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)
    if interval is not None:
        body = re.sub(
            r"(scrape_interval|evaluation_interval|scrape_timeout): \S+", rf"\1: {interval}", body
        )
    return head + "\nglobal:" + body


def render_alerts(*, alert_after: str | None = None) -> str:
    """The shipped alerts.yml; with ``alert_after``, every ``for:`` that long."""
    text = ALERTS.read_text()
    if alert_after is None:
        return text
    return re.sub(r"(\n\s+)for: \S+", rf"\1for: {alert_after}", text)


@dataclass
class Monitoring:
    """Prometheus with the shipped rules, and the two exporters, for one cluster."""

    workdir: Path
    app_hosts: tuple[str, str]
    nginx_status_url: str
    ports: tuple[int, int, int]  # prometheus, nginx exporter, node exporter
    interval: str | None = None
    alert_after: str | None = None
    processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 30.0) -> Monitoring:
        found = binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        prometheus_port, nginx_port, node_port = self.ports
        conf = self.workdir / "prometheus.yml"
        conf.write_text(
            render_prometheus_conf(
                app_hosts=self.app_hosts,
                nginx_exporter=f"127.0.0.1:{nginx_port}",
                node_exporters=[f"127.0.0.1:{node_port}"],
                interval=self.interval,
            )
        )
        (self.workdir / "alerts.yml").write_text(render_alerts(alert_after=self.alert_after))
        check = subprocess.run(  # noqa: S603
            [found["promtool"], "check", "config", str(conf)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise MonitoringError(f"promtool refuses {conf}:\n{check.stdout}{check.stderr}")
        try:
            self._run(
                "nginx-exporter",
                found["prometheus-nginx-exporter"],
                f"-nginx.scrape-uri={self.nginx_status_url}",
                f"-web.listen-address=127.0.0.1:{nginx_port}",
            )
            self._run(
                "node-exporter",
                found["prometheus-node-exporter"],
                f"--web.listen-address=127.0.0.1:{node_port}",
                # Only what the alerts read (the disks), and the basics.
                "--collector.disable-defaults",
                "--collector.filesystem",
                "--collector.loadavg",
                "--collector.meminfo",
            )
            self._run(
                "prometheus",
                found["prometheus"],
                f"--config.file={conf}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            )
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, name: str, *command: str) -> None:
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.processes.append(
                subprocess.Popen(  # noqa: S603
                    command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise MonitoringError(f"{process.args[0]} exited; see {self.workdir}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise MonitoringError(f"Prometheus not ready within {timeout:.0f}s; see {self.workdir}")

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as answer:  # noqa: S310
            return json.loads(answer.read())["data"]

    def query(self, expression: str) -> list[dict]:
        return self.api("query", query=expression)["result"]

    def firing(self) -> list[dict]:
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()

    def __enter__(self) -> Monitoring:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
