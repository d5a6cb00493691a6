"""The deployment files as the tests read them: every kustomize overlay rendered by
`kubectl kustomize`, the pod templates in it, and label selectors as Kubernetes applies them."""

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
OVERLAYS = ["base", "overlays/strimzi", "overlays/keda", "overlays/strimzi-keda", "overlays/prod"]
WORKLOADS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render the overlays (.ci/run installs it)"
    done = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def kefu_env(documents: list[dict[str, Any]]) -> dict[str, str]:
    """The settings every service reads from the ConfigMap kefu-env (name suffixed by a hash)."""
    [config] = [
        d for d in of_kind(documents, "ConfigMap") if d["metadata"]["name"].startswith("kefu-env")
    ]
    return config["data"]


@dataclass(frozen=True)
class Pod:
    """A pod template: whose it is, its labels and its named container ports."""

    owner: str
    labels: dict[str, str]
    ports: dict[str, int]

    def port(self, port: int | str) -> int | None:
        """A port by name or number (a number needs no declaring); None: no such name."""
        return self.ports.get(port) if isinstance(port, str) else port


def pods(documents: list[dict[str, Any]]) -> list[Pod]:
    found = []
    for d in documents:
        if d["kind"] in WORKLOADS:
            template = d["spec"]["template"]
            ports = {
                p["name"]: p["containerPort"]
                for c in template["spec"]["containers"]
                for p in c.get("ports", [])
                if "name" in p
            }
            owner = f"{d['kind']}/{d['metadata']['name']}"
            found.append(Pod(owner, template["metadata"].get("labels", {}), ports))
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against a set of labels; {} selects all."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator in ("In", "NotIn"):
            held = (labels.get(key) in expression["values"]) == (operator == "In")
        else:
            held = (key in labels) == (operator == "Exists")
        if not held:
            return False
    return True
