"""The deployment files, checked without a cluster: every kustomize overlay renders
(`kubectl kustomize`, also as deploy/README.md's changes leave it) and each object is valid,
strictly and offline: Kubernetes kinds by `kubernetes-validate`, Strimzi's and KEDA's kinds by
their CRDs' schemas kept in deploy/schemas/; compose.yaml by the Compose specification's
schema, running what the Kubernetes base runs; and no service is set to run more replicas than
its topics have partitions (extra ones would idle)."""

import json
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from kefu.shared.settings import Settings
from tests.deploy.manifests import ADAPTERS, DEPLOY, RENDERINGS, component, of_kind, rendered

KUBERNETES = "1.32.0"
CRDS = {
    ("kafka.strimzi.io/v1", "KafkaTopic"): "strimzi-kafkatopic.crd.yaml",
    ("kafka.strimzi.io/v1", "KafkaUser"): "kefu-subset.kafkauser.yaml",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "kefu-subset.triggerauthentication.yaml",
}


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((DEPLOY / "schemas" / CRDS[(api_version, kind)]).read_text())
    version = api_version.split("/")[1]
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return served["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_every_object_of_every_overlay_is_valid(overlay: str) -> None:
    for document in rendered(overlay):
        key = (document["apiVersion"], document["kind"])
        if key in CRDS:
            jsonschema.validate(document, crd_schema(*key))
        else:
            kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_prod_overlay_fences_and_exposes_what_it_should() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered("overlays/prod")}
    assert {("NetworkPolicy", "kefu-in"), ("NetworkPolicy", "kefu-out")} <= kinds
    [ingress] = [d for d in rendered("overlays/prod") if d["kind"] == "Ingress"]
    assert ingress["spec"]["tls"] and "/metrics" not in json.dumps(ingress)
    assert "Job" not in {kind for kind, _ in kinds}


@pytest.mark.parametrize("overlay", RENDERINGS)
def test_no_service_runs_more_replicas_than_partitions(overlay: str) -> None:
    documents = rendered(overlay)
    partitions = [d["spec"]["partitions"] for d in documents if d["kind"] == "KafkaTopic"] or [
        6
    ]  # the topics Job's `kefu topics create` default
    most = min(partitions)
    for document in documents:
        # the mail adapters only write: partitions do not bound them
        if document["kind"] == "Deployment" and component(document) not in ADAPTERS:
            assert document["spec"].get("replicas", 1) <= most
        if document["kind"] == "ScaledObject":
            assert document["spec"]["maxReplicaCount"] <= most


def test_compose_follows_the_compose_specification() -> None:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)  # the draft the schema is written in


def test_compose_runs_what_the_kubernetes_base_runs() -> None:
    """Each Deployment of the base is a Compose service named after its component, with the
    same arguments and the x-kefu health check on KEFU_HTTP_PORT 8080."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert compose["x-kefu"]["environment"]["KEFU_HTTP_PORT"] == "8080"
    assert "8080/readyz" in " ".join(compose["x-kefu"]["healthcheck"]["test"])
    for deployment in of_kind(rendered("base"), "Deployment"):
        name = component(deployment)
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert services[name]["command"] == container["args"], name
        assert services[name]["healthcheck"] == compose["x-kefu"]["healthcheck"], name
    assert services["adapter-smtp"]["ports"] == ["2525:2525"]


def secret_variables() -> set[str]:
    """Every KEFU_* variable the settings keep secret."""
    return {
        f"KEFU_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }


def test_the_example_secret_and_compose_carry_every_secret() -> None:
    example = yaml.safe_load((DEPLOY / "k8s" / "base" / "secret.example.yaml").read_text())
    assert set(example["stringData"]) == secret_variables()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    environment = compose["x-kefu"]["environment"]
    assert secret_variables() <= set(environment)
    signing = ("survey_secret", "notify_secret", "auth_secret")
    local = Settings(**{name: environment[f"KEFU_{name.upper()}"] for name in signing})
    for name in signing:
        local.signing_secret(name)  # the services would start with it
