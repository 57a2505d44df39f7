"""The shipped Prometheus files (deploy/prometheus.yml, deploy/alerts.yml) pass promtool,
every alert fires on its made-up series after its real `for:` (tests/ops/alerts_test.yml),
and each has its one-line runbook in docs/operations.md. The live Prometheus against the
cluster is tests/cluster/test_monitoring.py."""

from __future__ import annotations

import re
import subprocess

import pytest

from deploy.monitoring import (
    ALERTS,
    MonitoringError,
    binaries,
    render_alerts,
    render_prometheus_conf,
)
from tests.cluster.conftest import in_ci
from tests.support.databases import ROOT


@pytest.fixture(scope="module")
def promtool() -> str:
    try:
        return binaries()["promtool"]
    except MonitoringError as error:
        if in_ci():
            pytest.fail(f"promtool cannot run in CI: {error}", pytrace=False)
        pytest.skip(f"promtool tests skipped: {error}")


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)  # noqa: S603


def test_the_shipped_config_with_its_placeholders_filled_in_passes(promtool, tmp_path):
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        render_prometheus_conf(
            app_hosts=("app1.internal:8000", "app2.internal:8000"),
            nginx_exporter="web.internal:9113",
            node_exporters=["app1.internal:9100", "app2.internal:9100", "db.internal:9100"],
        )
    )
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text())
    checked = run(promtool, "check", "config", str(conf))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = conf.read_text()
    assert '- targets: ["app1.internal:8000", "app2.internal:8000"]' in text
    assert '"app1.internal:9100", "app2.internal:9100", "db.internal:9100"' in text
    assert "${" not in text.split("\nglobal:", 1)[1]


def test_a_placeholder_nobody_fills_in_is_refused():
    with pytest.raises(MonitoringError, match="placeholders"):
        render_prometheus_conf(
            app_hosts=("a:1", "b:2"),
            nginx_exporter="c:3",
            node_exporters=["d:4"],
            template="# x\nglobal:\n  targets: [${APP_HOST_1}, ${SOMETHING_ELSE}]\n",
        )


def test_the_rules_pass_and_each_alert_fires_after_its_real_wait(promtool):
    checked = run(promtool, "check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", "tests/ops/alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_only_the_waits_change_for_the_live_test():
    shortened = render_alerts(alert_after="2s")
    assert re.sub(r"for: \S+", "for: X", shortened) == re.sub(
        r"for: \S+", "for: X", ALERTS.read_text()
    )
    assert "for: 1m" not in shortened and "for: 2s" in shortened


def test_every_alert_has_a_one_line_runbook_in_the_operations_guide():
    rules = re.split(r"\n\s+- alert: ", ALERTS.read_text())[1:]
    assert len(rules) >= 10
    runbook = (ROOT / "docs" / "operations.md").read_text().split("\n## Alerts", 1)[1]
    lines = runbook.split("\n## ", 1)[0].splitlines()
    for rule in rules:
        name = rule.split("\n", 1)[0].strip()
        target = re.search(r'runbook: "docs/operations.md#alerts, (\w+)"', rule)
        assert target, f"{name} names no runbook"
        severity = re.search(r"severity: (\w+)", rule)
        assert severity and severity.group(1) in {"page", "ticket"}, name
        line = [line for line in lines if line.startswith(f"| **{target.group(1)}**")]
        assert len(line) == 1, f"{name}: no runbook line for {target.group(1)}"
