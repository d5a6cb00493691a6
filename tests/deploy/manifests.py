"""The deployment files as the tests read them: every kustomize overlay rendered by
`kubectl kustomize`, also with the changes deploy/README.md tells an operator to make (the
IMAP reader, the Kafka ACLs, the "Mail in" example overlay), the pod templates in it, and
label selectors as Kubernetes applies them."""

import atexit
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
README = DEPLOY / "README.md"
OVERLAYS = ["base", "overlays/strimzi", "overlays/keda", "overlays/strimzi-keda", "overlays/prod"]
WORKLOADS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}
SERVICES = ("intake", "router", "sla", "notify", "survey", "analytics", "workspace")
ADAPTERS = ("adapter-smtp", "adapter-imap")  # mail in: they publish, they consume nothing
IMAP_COMPONENT = "components: [../components/adapter-imap]"  # in base/kustomization.yaml
ACLS_COMPONENT = "components: [../strimzi/acls]"  # in overlays/prod/kustomization.yaml
# What an operator may change, by the suffix that names it: (file, text, what replaces it).
EDITS = {
    "imap": ("base/kustomization.yaml", f"# {IMAP_COMPONENT}\n", f"{IMAP_COMPONENT}\n"),
    "acls": ("overlays/prod/kustomization.yaml", "\npatches:\n", f"\n{ACLS_COMPONENT}\npatches:\n"),
}
# The overlays as shipped, then as the README's changes leave them (`overlays/mail` is the
# README's example overlay: prod with the MX's LoadBalancer and STARTTLS).
RENDERINGS = [
    *OVERLAYS,
    "base+imap",
    "overlays/strimzi+imap",
    "overlays/keda+imap",
    "overlays/strimzi-keda+imap",
    "overlays/mail+imap+acls",
]


def readme_files() -> dict[str, str]:
    """The files deploy/README.md's "Mail in" section shows, by the path under deploy/k8s
    that each names in its first line (`# overlays/mail/kustomization.yaml`)."""
    section = README.read_text().split("\n## Mail in\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    return {m[1]: block for block in blocks if (m := re.match(r"# (overlays/\S+)\n", block))}


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    """`overlay` as shipped; `overlay+imap+…`: from a copy of deploy/k8s with those EDITS
    made and the README's example files written."""
    root = DEPLOY / "k8s"
    overlay, *edits = overlay.split("+")
    if edits:
        root = Path(tempfile.mkdtemp(prefix="kefu-k8s-")) / "k8s"
        atexit.register(shutil.rmtree, root.parent, ignore_errors=True)
        shutil.copytree(DEPLOY / "k8s", root)
        for path, text in readme_files().items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        for edit in edits:
            path, old, new = EDITS[edit]
            source = (root / path).read_text()
            assert source.count(old) == 1, f"{path} no longer has {old!r}: update the test"
            (root / path).write_text(source.replace(old, new))
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render the overlays (.ci/run installs it)"
    done = subprocess.run(
        [kubectl, "kustomize", str(root / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def component(document: dict[str, Any]) -> str | None:
    return document["metadata"].get("labels", {}).get("app.kubernetes.io/component")


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
