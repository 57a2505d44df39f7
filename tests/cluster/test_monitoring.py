"""Prometheus (Debian's) with the shipped deploy/prometheus.yml and deploy/alerts.yml,
watching the cluster: it finds the app's series on both hosts and nginx's through its
exporter, and the host-down alert fires when a host is stopped.

The one change from the shipped files (deploy/monitoring.py): Prometheus scrapes and
evaluates every second and every alert's ``for:`` is two seconds, so the test sees in
seconds what production sees in a minute. The real durations are proven by
``promtool test rules`` (tests/ops/test_prometheus.py).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from deploy.monitoring import Monitoring, MonitoringError, binaries
from tests.cluster.conftest import in_ci
from tests.cluster.support import Browser
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def prometheus(cluster):
    try:
        binaries()
    except MonitoringError as error:
        if in_ci():
            pytest.fail(f"the monitoring cannot run in CI: {error}", pytrace=False)
        pytest.skip(f"monitoring tests skipped: {error}")
    workdir = Path(tempfile.mkdtemp(prefix="intake-monitoring-test-"))
    monitoring = Monitoring(
        workdir=workdir,
        app_hosts=(cluster.hosts[0].address, cluster.hosts[1].address),
        nginx_status_url=f"{cluster.url}/stub_status",
        ports=(free_port(), free_port(), free_port()),
        interval="1s",
        alert_after="2s",
    )
    try:
        with monitoring:
            yield monitoring
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def instances(result: list[dict]) -> set[str]:
    return {series["metric"]["instance"] for series in result}


def test_prometheus_finds_the_app_on_both_hosts_and_nginx(cluster, prometheus):
    visitor = Browser(cluster.port, source="127.0.0.3")
    for _ in range(6):
        assert visitor.request("GET", "/").status == 200
    hosts = {host.address for host in cluster.hosts}
    requests = 'intake_http_request_duration_seconds_count{job="intake"}'
    wait_for(lambda: instances(prometheus.query(requests)) == hosts, 30, "both hosts' requests")
    # The database's figures, from each host; nginx's through its exporter; the disks.
    up = prometheus.query("intake_database_up")
    assert instances(up) == hosts and {s["value"][1] for s in up} == {"1"}
    # Each target's first scrape may still be on its way on a busy machine.
    wait_for(lambda: prometheus.query("nginx_up == 1"), 30, "nginx's exporter")
    assert prometheus.query("nginx_connections_accepted > 0")
    wait_for(lambda: prometheus.query('node_filesystem_avail_bytes{job="node"}'), 30, "disks")
    # Through nginx, as any visitor would try them: refused.
    assert visitor.request("GET", "/metrics").status == 404
    assert visitor.request("GET", "/stub_status").status == 403
    # Nothing is firing while everything runs.
    assert [a["labels"]["alertname"] for a in prometheus.firing()] == []


def test_a_stopped_host_fires_the_host_down_alert(cluster, prometheus):
    host = cluster.hosts[1]
    wait_for(
        lambda: prometheus.query(f'up{{job="intake", instance="{host.address}"}} == 1'),
        30,
        "the host is up first",
    )
    host.stop()
    try:

        def host_down():
            return [
                alert
                for alert in prometheus.firing()
                if alert["labels"]["alertname"] == "IntakeHostDown"
                and alert["labels"]["instance"] == host.address
            ]

        (alert,) = wait_for(host_down, 30, "IntakeHostDown firing")
        assert alert["labels"]["severity"] == "page"
        assert alert["annotations"]["runbook"] == "docs/operations.md#alerts, IntakeHostDown"
        # The other host is not said to be down.
        assert all(a["labels"].get("instance") != cluster.hosts[0].address for a in host_down())
    finally:
        host.start()
