"""The monitoring files: the alert rules pass `promtool check rules`, each alert has a runbook
in deploy/README.md, and every kefu metric the alerts and the Grafana dashboard query is one
the services export."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from kefu.services.analytics.windows import Windows
from kefu.shared.metrics import Metrics

MONITORING = Path(__file__).parents[2] / "deploy" / "monitoring"
README = Path(__file__).parents[2] / "deploy" / "README.md"
KEFU_METRIC = re.compile(r"\bkefu_[a-z_]+")


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    """Every series name the services' registries can export."""
    registry = CollectorRegistry()
    Metrics(registry)
    Windows(None, None, None, registry=registry)  # type: ignore[arg-type]  # its gauges only
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def rules() -> dict:
    return yaml.safe_load((MONITORING / "alerts.yaml").read_text())


def test_the_alert_rules_pass_promtool(tmp_path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) checks the rules: run `make system`"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules()["spec"]))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_runbook() -> None:
    anchors = {
        re.sub(r"[^a-z0-9-]", "", line.lstrip("#").strip().lower().replace(" ", "-"))
        for line in README.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in rules()["spec"]["groups"][0]["rules"]:
        runbook = rule["annotations"]["runbook"]
        assert runbook.split("#")[1] in anchors, rule["alert"]


def test_queries_use_metrics_that_exist() -> None:
    known = exported()
    queries = [r["expr"] for r in rules()["spec"]["groups"][0]["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queries += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    for query in queries:
        for name in KEFU_METRIC.findall(query):
            assert name in known, f"{name} in {query}"
