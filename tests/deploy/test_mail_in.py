"""Mail in on Kubernetes (contract 10): the SMTP adapter in the base, its Service 25 → 2525 and
its probes on 8080; the IMAP reader's component, one replica replaced with Recreate; KEDA
scaling the services and leaving the adapters their replicas; the adapters' share of the
Secret and their own Kafka user and ACLs; and deploy/README.md's MX example overlay."""

from typing import Any

import pytest

from kefu.shared.topics import Topic, topic_name
from tests.deploy.manifests import (
    ACLS_COMPONENT,
    ADAPTERS,
    IMAP_COMPONENT,
    README,
    RENDERINGS,
    SERVICES,
    component,
    kefu_env,
    of_kind,
    pods,
    rendered,
    selects,
)
from tests.deploy.test_manifests import secret_variables

WITH_IMAP = [r for r in RENDERINGS if "+imap" in r]
SECRET_KEYS = {  # what each adapter reads from the Secret, and nothing else
    "adapter-smtp": {"KEFU_KAFKA_SASL_PASSWORD"},
    "adapter-imap": {"KEFU_KAFKA_SASL_PASSWORD", "KEFU_IMAP_PASSWORD"},
}


def named(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def port_number(kefu: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in kefu["ports"] if p["name"] == port]
    return number


def assert_probes_on_8080(documents: list[dict[str, Any]], deployment: dict[str, Any]) -> None:
    """Start-up and liveness on /healthz, readiness on /readyz, on the port the process serves
    its HTTP on (KEFU_HTTP_PORT)."""
    kefu = container(deployment)
    http_port = int(kefu_env(documents)["KEFU_HTTP_PORT"])
    assert http_port == 8080
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        get = kefu[probe]["httpGet"]
        assert (get["path"], port_number(kefu, get["port"])) == (path, http_port), probe


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_the_smtp_adapter_takes_mail_on_25_and_answers_its_probes_on_8080(overlay: str) -> None:
    documents = rendered(overlay)
    deployment = named(documents, "Deployment", "kefu-adapter-smtp")
    kefu = container(deployment)
    assert kefu["args"] == ["adapter", "smtp", "--port", "2525"]
    assert port_number(kefu, "smtp") == 2525 and port_number(kefu, "http") == 8080
    assert_probes_on_8080(documents, deployment)
    service = named(documents, "Service", "kefu-adapter-smtp")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"  # the MX is the operator's
    ports = {p["port"]: port_number(kefu, p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {25: 2525, 8080: 8080}
    [pdb] = [
        d
        for d in of_kind(documents, "PodDisruptionBudget")
        if selects(d["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    ]
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_the_imap_reader_runs_alone_and_only_where_included(overlay: str) -> None:
    documents = rendered(overlay)
    readers = [d for d in of_kind(documents, "Deployment") if component(d) == "adapter-imap"]
    assert len(readers) == (overlay in WITH_IMAP)
    for deployment in readers:
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert container(deployment)["args"] == ["adapter", "imap"]
        assert_probes_on_8080(documents, deployment)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budgets = [
            d["spec"]
            for d in of_kind(documents, "PodDisruptionBudget")
            if selects(d["spec"]["selector"], labels)
        ]
        assert budgets, "a budget, so that evictions go one at a time"
        for budget in budgets:  # none may keep a drain waiting on the one reader
            assert budget.get("minAvailable", 0) == 0 and budget["maxUnavailable"] >= 1


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_keda_scales_every_service_and_leaves_the_adapters_their_replicas(overlay: str) -> None:
    documents = rendered(overlay)
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in of_kind(documents, "ScaledObject")}
    for deployment in of_kind(documents, "Deployment"):
        name, spec = deployment["metadata"]["name"], deployment["spec"]
        assert ("replicas" in spec) != (name in scaled), name  # one owner of the count
        if component(deployment) in ADAPTERS:
            assert name not in scaled and spec["replicas"] >= 1, name  # no group: no lag
        elif scaled:
            assert component(deployment) in SERVICES and name in scaled, name


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_the_adapters_mount_only_the_secret_keys_they_use(overlay: str) -> None:
    for deployment in of_kind(rendered(overlay), "Deployment"):
        [secret] = [
            v["secret"]
            for v in deployment["spec"]["template"]["spec"]["volumes"]
            if v["name"] == "secrets"
        ]
        assert secret["secretName"] == "kefu-secrets"
        name = component(deployment)
        if name in ADAPTERS:
            keys = {item["key"] for item in secret["items"]}
            assert keys == SECRET_KEYS[name] and keys <= secret_variables(), name
            assert all(item["path"] == item["key"] for item in secret["items"])  # file = variable
            assert secret["optional"] is True  # a Secret without SASL's password still mounts
        else:
            assert "items" not in secret, name


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_with_strimzi_the_adapters_sign_in_as_their_own_kafka_user(overlay: str) -> None:
    documents = rendered(overlay)
    users = {d["metadata"]["name"] for d in of_kind(documents, "KafkaUser")}
    for deployment in of_kind(documents, "Deployment"):
        template = deployment["spec"]["template"]["spec"]
        certificates = [
            v["secret"]["secretName"] for v in template["volumes"] if v["name"] == "kafka-user"
        ]
        if not users:
            assert not certificates
            continue
        wanted = "kefu-adapters" if component(deployment) in ADAPTERS else "kefu-services"
        assert certificates == [wanted] and wanted in users, deployment["metadata"]["name"]
        mounts = {m["name"]: m["mountPath"] for m in template["containers"][0]["volumeMounts"]}
        assert mounts["kafka-user"] == "/run/secrets/kafka-user"  # KEFU_KAFKA_SSL_CERTFILE's


def test_the_acls_let_the_adapters_write_channel_inbound_only() -> None:
    for shipped in ("overlays/strimzi", "overlays/prod"):  # opt-in: an authorizer is needed
        assert all(
            "authorization" not in u["spec"] for u in of_kind(rendered(shipped), "KafkaUser")
        )
    documents = rendered("overlays/mail+imap+acls")
    prefix = kefu_env(documents)["KEFU_TOPIC_PREFIX"]
    adapters = named(documents, "KafkaUser", "kefu-adapters")["spec"]["authorization"]
    inbound = topic_name(prefix, Topic.CHANNEL_INBOUND)
    assert adapters == {
        "type": "simple",
        "acls": [
            {
                "resource": {"type": "topic", "name": inbound, "patternType": "literal"},
                "operations": ["Describe", "Write"],
            }
        ],
    }
    services = named(documents, "KafkaUser", "kefu-services")["spec"]["authorization"]["acls"]
    granted = {
        (a["resource"]["type"], a["resource"]["name"]): set(a["operations"]) for a in services
    }
    assert granted == {
        ("topic", prefix): {"Describe", "Read", "Write"},
        ("group", prefix): {"Describe", "Read"},
    }
    assert all(a["resource"]["patternType"] == "prefix" for a in services)


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_the_starttls_files_are_the_smtp_adapters_alone(overlay: str) -> None:
    """KEFU_MAIL_IN_* name files that only the SMTP adapter mounts: in kefu-env every pod
    would refuse to start without them."""
    documents = rendered(overlay)
    assert not [k for k in kefu_env(documents) if k.startswith("KEFU_MAIL_IN_")]
    for deployment in of_kind(documents, "Deployment"):
        kefu = container(deployment)
        files = [e["value"] for e in kefu.get("env", []) if e["name"].startswith("KEFU_MAIL_IN_")]
        if files:
            assert component(deployment) == "adapter-smtp"
            mounted = [m["mountPath"] + "/" for m in kefu["volumeMounts"]]
            assert all(any(f.startswith(m) for m in mounted) for f in files), files
    if overlay.startswith("overlays/mail"):  # the README's example sets them
        smtp = container(named(documents, "Deployment", "kefu-adapter-smtp"))
        assert {e["name"] for e in smtp["env"]} == {"KEFU_MAIL_IN_CERTFILE", "KEFU_MAIL_IN_KEYFILE"}


def test_the_readme_mx_service_publishes_port_25_only() -> None:
    documents = rendered("overlays/mail+imap+acls")
    mx = named(documents, "Service", "kefu-mx")["spec"]
    assert mx["type"] == "LoadBalancer" and mx["externalTrafficPolicy"] == "Local"
    assert [(p["port"], p["targetPort"]) for p in mx["ports"]] == [(25, "smtp")]  # no /metrics
    chosen = {
        p.owner for p in pods(documents) if selects({"matchLabels": mx["selector"]}, p.labels)
    }
    assert chosen == {"Deployment/kefu-adapter-smtp"}


def test_the_readme_names_the_lines_the_tests_apply() -> None:
    text = README.read_text()
    assert f"`{IMAP_COMPONENT}`" in text and f"`{ACLS_COMPONENT}`" in text
