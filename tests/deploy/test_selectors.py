"""Every selector in the deployment files selects what it names: Services, disruption budgets,
NetworkPolicies (and their pod peers) and deploy/monitoring's PodMonitor select pod templates,
ScaledObjects scale Deployments that exist and sign in with a TriggerAuthentication that
exists. And the prod overlay's NetworkPolicies, read as Kubernetes applies them (a pod that a
policy of a type selects is denied that direction except what some such policy allows), let
each service and mail adapter reach what it must and no more, and mail in to the SMTP
adapter."""

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    ADAPTERS,
    DEPLOY,
    RENDERINGS,
    SERVICES,
    Pod,
    kefu_env,
    of_kind,
    pods,
    rendered,
    selects,
)

NAMESPACE = "kefu"  # where the README applies the overlays (`kubectl apply -n kefu`)


def podmonitor() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "monitoring" / "podmonitor.yaml").read_text())


def selected(templates: list[Pod], selector: dict[str, Any]) -> list[Pod]:
    return [pod for pod in templates if selects(selector, pod.labels)]


def service_selector(service: dict[str, Any]) -> dict[str, Any]:
    return {"matchLabels": service["spec"]["selector"]}


def selectors(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod selectors of an object that must each select a pod template of its namespace."""
    spec = document.get("spec", {})
    kind = document["kind"]
    if kind == "Service":
        return [service_selector(document)]
    if kind in ("PodDisruptionBudget", "Deployment"):
        return [spec["selector"]]
    if kind == "NetworkPolicy":
        rules = spec.get("ingress", []) + spec.get("egress", [])
        peers = [p for rule in rules for p in rule.get("from", []) + rule.get("to", [])]
        return [spec["podSelector"]] + [
            p["podSelector"] for p in peers if "podSelector" in p and "namespaceSelector" not in p
        ]
    return []


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_every_selector_selects_pods(overlay: str) -> None:
    documents = rendered(overlay)
    templates = pods(documents)
    for document in documents:
        for selector in selectors(document):
            assert selected(templates, selector), (
                f"{document['kind']}/{document['metadata']['name']}: {selector}"
            )
        if document["kind"] == "Deployment":
            own = document["spec"]["template"]["metadata"]["labels"]
            assert selects(document["spec"]["selector"], own), document["metadata"]["name"]


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_services_and_the_podmonitor_find_their_ports(overlay: str) -> None:
    documents = rendered(overlay)
    templates = pods(documents)
    for service in of_kind(documents, "Service"):
        for pod in selected(templates, service_selector(service)):
            for port in service["spec"]["ports"]:
                assert pod.port(port["targetPort"]), (service["metadata"]["name"], pod.owner)
    monitor = podmonitor()["spec"]
    scraped = {pod.owner for pod in selected(templates, monitor["selector"])}
    deployments = {f"Deployment/{d['metadata']['name']}" for d in of_kind(documents, "Deployment")}
    assert deployments <= scraped  # every service, not only some
    for pod in templates:
        if pod.owner in deployments:
            assert all(pod.port(e["port"]) for e in monitor["podMetricsEndpoints"]), pod.owner


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_scaled_objects_target_deployments_and_authentications_that_exist(overlay: str) -> None:
    documents = rendered(overlay)
    names = {(d["kind"], d["metadata"]["name"]) for d in documents}
    for scaled in of_kind(documents, "ScaledObject"):
        target = scaled["spec"]["scaleTargetRef"]
        assert (target.get("kind", "Deployment"), target["name"]) in names
        for trigger in scaled["spec"]["triggers"]:
            reference = trigger["authenticationRef"]
            assert (reference.get("kind", "TriggerAuthentication"), reference["name"]) in names


@dataclass(frozen=True)
class Peer:
    """The other end of a connection: a pod (its namespace and labels) or, with no namespace,
    an address outside the cluster."""

    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = "203.0.113.10"  # TEST-NET-3


KAFKA = Peer(NAMESPACE, {"strimzi.io/cluster": "kefu", "strimzi.io/kind": "Kafka"})
MONGODB = Peer(NAMESPACE, {"app.kubernetes.io/name": "mongodb"})
DNS = Peer("kube-system", {"k8s-app": "kube-dns"})
OUTSIDE = Peer(None)  # the SMTP relay, the SMS gateway, webhooks, mail servers, S3
INGRESS_CONTROLLER = Peer("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = Peer("monitoring", {"app.kubernetes.io/name": "prometheus"})
STRANGER = Peer("default", {"app": "elsewhere"})


def peer_matches(rule_peer: dict[str, Any], peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        excepted = any(address in ipaddress.ip_network(c) for c in block.get("except", []))
        return address in ipaddress.ip_network(block["cidr"]) and not excepted
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        namespace = {"kubernetes.io/metadata.name": peer.namespace}
        in_namespace = selects(rule_peer["namespaceSelector"], namespace)
    else:
        in_namespace = peer.namespace == NAMESPACE
    return in_namespace and selects(rule_peer.get("podSelector", {}), peer.labels)


def port_matches(rule_ports: list[dict[str, Any]], port: int, protocol: str, named: dict) -> bool:
    for allowed in rule_ports or [{"protocol": protocol}]:
        if allowed.get("protocol", "TCP") != protocol:
            continue
        if "port" not in allowed:
            return True
        first = named.get(allowed["port"]) if isinstance(allowed["port"], str) else allowed["port"]
        if first is not None and first <= port <= allowed.get("endPort", first):
            return True
    return False


def allowed(
    policies: list[dict[str, Any]], pod: Pod, direction: str, peer: Peer, port: int, protocol: str
) -> bool:
    """Whether the policies let `pod` receive from (Ingress) or send to (Egress) `peer`."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    fencing = [
        p["spec"]
        for p in policies
        if direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], pod.labels)
    ]
    named = pod.ports if direction == "Ingress" else {}  # named ports: the selected pod's own
    return not fencing or any(
        port_matches(rule.get("ports", []), port, protocol, named)
        and (not rule.get(peers_key) or any(peer_matches(p, peer) for p in rule[peers_key]))
        for spec in fencing
        for rule in spec.get(rules_key, [])
    )


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# prod as shipped, and with the IMAP reader and the README's MX overlay on top
PROD = ["overlays/prod", "overlays/mail+imap+acls"]


@pytest.mark.parametrize("overlay", PROD)
def test_the_prod_network_policies_let_each_service_reach_what_it_must(overlay: str) -> None:
    documents = rendered(overlay)
    policies = of_kind(documents, "NetworkPolicy")
    env = kefu_env(documents)
    kafka_ports = {9092, 9093, port_of(env["KEFU_KAFKA_BOOTSTRAP"].split(",")[0])}
    kafka = [(DNS, 53, "UDP"), (DNS, 53, "TCP")] + [(KAFKA, port, "TCP") for port in kafka_ports]
    every_service = [*kafka, (MONGODB, 27017, "TCP")]
    smtp_ports = {25, 465, 587, int(env["KEFU_SMTP_PORT"])}
    notify = [(OUTSIDE, port, "TCP") for port in smtp_ports] + [(OUTSIDE, 443, "TCP")]
    workloads = [p for p in pods(documents) if p.owner.startswith("Deployment/")]
    services = [p for p in workloads if p.labels["app.kubernetes.io/component"] in SERVICES]
    assert len(services) == len(SERVICES) == 7  # the six services and the workspace
    for pod in services:
        needed = every_service + (
            notify if pod.labels["app.kubernetes.io/component"] == "notify" else []
        )
        for peer, port, protocol in needed:
            assert allowed(policies, pod, "Egress", peer, port, protocol), (pod.owner, peer, port)
        assert not allowed(policies, pod, "Egress", OUTSIDE, 5432, "TCP"), pod.owner
        assert not allowed(policies, pod, "Ingress", STRANGER, pod.ports["http"], "TCP")
    for inside_only in ("Deployment/kefu-router", "Deployment/kefu-workspace"):
        pod = next(p for p in services if p.owner == inside_only)
        assert not allowed(policies, pod, "Egress", OUTSIDE, 443, "TCP"), inside_only
        assert not allowed(policies, pod, "Egress", OUTSIDE, 993, "TCP"), inside_only


@pytest.mark.parametrize("overlay", PROD)
def test_the_prod_network_policies_let_mail_in_and_the_adapters_reach_kafka(overlay: str) -> None:
    documents = rendered(overlay)
    policies = of_kind(documents, "NetworkPolicy")
    env = kefu_env(documents)
    kafka = [(KAFKA, port, "TCP") for port in {9092, 9093, port_of(env["KEFU_KAFKA_BOOTSTRAP"])}]
    adapters = {
        p.labels["app.kubernetes.io/component"]: p
        for p in pods(documents)
        if p.labels.get("app.kubernetes.io/component") in ADAPTERS
    }
    assert "adapter-smtp" in adapters and ("+imap" in overlay) == ("adapter-imap" in adapters)
    for name, pod in adapters.items():
        needed = [(DNS, 53, "UDP"), (DNS, 53, "TCP"), *kafka, (OUTSIDE, 443, "TCP")]  # S3
        if name == "adapter-imap":
            needed += [(OUTSIDE, 993, "TCP"), (OUTSIDE, 143, "TCP")]  # the mailbox
        for peer, port, protocol in needed:
            assert allowed(policies, pod, "Egress", peer, port, protocol), (name, peer, port)
        assert not allowed(policies, pod, "Egress", MONGODB, 27017, "TCP"), name  # no store
        assert not allowed(policies, pod, "Egress", OUTSIDE, 25, "TCP"), name  # sends no mail
        assert not allowed(policies, pod, "Ingress", STRANGER, pod.ports["http"], "TCP"), name
        assert not allowed(policies, pod, "Ingress", OUTSIDE, pod.ports["http"], "TCP"), name
    smtp = adapters["adapter-smtp"]
    for sender in (OUTSIDE, STRANGER, INGRESS_CONTROLLER):  # any mail server, anywhere
        assert allowed(policies, smtp, "Ingress", sender, smtp.ports["smtp"], "TCP"), sender
    for pod in pods(documents):
        if pod.labels.get("app.kubernetes.io/component") != "adapter-smtp":
            assert not allowed(policies, pod, "Ingress", OUTSIDE, 2525, "TCP"), pod.owner


def test_the_prod_network_policies_let_in_the_ingress_controller_and_prometheus() -> None:
    documents = rendered("overlays/prod")
    policies = of_kind(documents, "NetworkPolicy")
    templates = pods(documents)
    services = {s["metadata"]["name"]: s for s in of_kind(documents, "Service")}
    [ingress] = of_kind(documents, "Ingress")
    backends = [
        p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]
    ]
    for backend in backends:
        service = services[backend["name"]]
        [port] = [p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]]
        for pod in selected(templates, service_selector(service)):
            target = pod.port(port["targetPort"])
            assert target and allowed(
                policies, pod, "Ingress", INGRESS_CONTROLLER, target, "TCP"
            ), pod.owner
    monitor = podmonitor()["spec"]
    for pod in selected(templates, monitor["selector"]):
        for endpoint in monitor["podMetricsEndpoints"]:
            port = pod.port(endpoint["port"])  # None: not scraped (a pod without that port)
            assert port is None or allowed(policies, pod, "Ingress", PROMETHEUS, port, "TCP")
