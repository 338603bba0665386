"""Every Kubernetes manifest validates offline, the generated ones are what the registry
renders today, and the rendered ACLs are DOMAIN.md §4's topic table."""

from __future__ import annotations

import json
import secrets
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from deploy.local.certificates import issue_development_certificates
from deploy.render import K8S, build, dump, load_registry
from hub.control_signatures import (
    PRIVATE_SETTING,
    PUBLIC_SETTING,
    Signer,
    generate_control_keys,
    load_signing,
    load_trust,
)
from hub.core.keys import KEYS_FILE_ENV, generate_key_set, load_key_set
from hub.stage import StageConfig
from hub.topics import CONTROL, DEAD_LETTERS, LAYOUT, PERSONS, PROVISION_RECORDS, STATE
from portal.tokens import KEY_VARIABLE as PORTAL_TOKEN_KEY
from producers import HUB_SEALING_KEY_ENV, Connection

from .kubernetes import crd_schemas, documents, kustomize_resources, validate

OVERLAYS = sorted(p for p in (K8S / "overlays").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def custom() -> dict[tuple[str, str], dict[str, Any]]:
    return crd_schemas()


def _manifests(files: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, document) for path in files for document in documents(path)]


def test_the_crds_of_strimzi_keda_and_the_prometheus_operator_are_read(
    custom: dict[tuple[str, str], dict[str, Any]],
) -> None:
    kinds = {kind for _version, kind in custom}
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "ScaledObject",
            "TriggerAuthentication", "ServiceMonitor"} <= kinds  # fmt: skip


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_every_manifest_of_an_overlay_validates(
    overlay: Path, custom: dict[tuple[str, str], dict[str, Any]]
) -> None:
    manifests = _manifests(kustomize_resources(overlay))
    assert len(manifests) > 30
    for path, document in manifests:
        try:
            validate(document, custom)
        except Exception as exc:  # name the file and object, then the schema's complaint
            name = document.get("metadata", {}).get("name")
            pytest.fail(f"{path.relative_to(K8S)}: {document.get('kind')} {name}: {exc}"[:3000])


def test_a_strict_schema_refuses_a_misspelt_field(
    custom: dict[tuple[str, str], dict[str, Any]],
) -> None:
    topic = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
             "metadata": {"name": "t"}, "spec": {"partitons": 3}}  # fmt: skip
    with pytest.raises(Exception, match="partitons"):
        validate(topic, custom)
    deployment = next(d for _p, d in _manifests([K8S / "base" / "hub.yaml"]))
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 60
    with pytest.raises(Exception, match="terminationGracePeriod"):
        validate(deployment, custom)


def test_the_generated_manifests_are_what_the_registry_renders() -> None:
    for relative, rendered in build(load_registry()).items():
        checked_in = (K8S / relative).read_text("utf-8")
        assert checked_in == dump(rendered), f"{relative} is stale: run `renkei deploy render`"


def test_autoscaling_stops_at_the_partition_count_of_the_routers_input() -> None:
    registry = load_registry()
    topics = {d["spec"]["topicName"]: d for d in documents(K8S / "base/generated/topics.yaml")}
    partitions = topics[PERSONS]["spec"]["partitions"]
    assert partitions == topics[STATE]["spec"]["partitions"] == registry.hub_partitions
    keda = [d for d in documents(K8S / "overlays/keda/generated/scaledobject.yaml")
            if d["kind"] == "ScaledObject"]  # fmt: skip
    assert keda[0]["spec"]["maxReplicaCount"] == partitions
    assert keda[0]["spec"]["triggers"][0]["metadata"]["topic"] == PERSONS
    hpa = next(documents(K8S / "overlays/hpa/generated/hpa.yaml"))
    assert hpa["spec"]["maxReplicas"] == partitions


def test_the_hub_is_probed_on_all_interfaces_and_outlives_a_transaction_when_stopped() -> None:
    deployment = next(d for d in documents(K8S / "base/hub.yaml") if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    settings = next(documents(K8S / "base/generated/hub-settings.yaml"))
    assert settings["data"]["RENKEI_HTTP_HOST"] == "0.0.0.0"
    assert {c["configMapRef"]["name"] for c in pod["containers"][0]["envFrom"]} == {
        settings["metadata"]["name"]
    }
    hub = pod["containers"][0]
    assert hub["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert hub["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["terminationGracePeriodSeconds"] * 1000 > StageConfig.transaction_timeout_ms
    assert hub["resources"]["requests"]
    assert hub["resources"]["limits"]
    kinds = {d["kind"] for d in documents(K8S / "base/hub.yaml")}
    assert "PodDisruptionBudget" in kinds


# ---- what a container is given at start ----------------------------------------------------

# ConfigMaps the operator makes from files (README, deploy section): name -> keys they hold.
OPERATOR_CONFIGMAPS = {
    "renkei-control-trust": {"operator.pub", "ppc.pub"},  # renkei keys control (public halves)
    "renkei-hub-public": {HUB_SEALING_KEY_ENV, "RENKEI_RECORD_VERIFY_KEYS"},  # renkei keys public
}


def _workload(name: str) -> dict[str, Any]:
    """The Deployment or Job `name` of the base (both hold their pod at spec.template)."""
    workloads = [d for path in kustomize_resources(K8S / "base") for d in documents(path)
                 if d["kind"] in ("Deployment", "Job")]  # fmt: skip
    return next(d for d in workloads if d["metadata"]["name"] == name)


def _environment(deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment as Kubernetes would set it: values, and names whose value
    comes from a Secret (a stand-in), a rendered ConfigMap or one the operator makes."""
    rendered = {d["metadata"]["name"]: d["data"] for path in kustomize_resources(K8S / "base")
                for d in documents(path) if d["kind"] == "ConfigMap"}  # fmt: skip
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in rendered or name in OPERATOR_CONFIGMAPS, f"no ConfigMap {name}"
        keys = rendered.get(name) or dict.fromkeys(OPERATOR_CONFIGMAPS[name], "from-configmap")
        env.update(keys)
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value", "from-secret")
    return env


def _mounted(deployment: dict[str, Any], path: str) -> str:
    """The name of the volume file `path` is read from; fails if no volume provides it."""
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    file = PurePosixPath(path)
    mount = next((m for m in container.get("volumeMounts", [])
                  if PurePosixPath(m["mountPath"]) == file.parent), None)  # fmt: skip
    assert mount is not None, f"nothing is mounted where {path} is read"
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    if "configMap" in volume and volume["configMap"]["name"] in OPERATOR_CONFIGMAPS:
        assert file.name in OPERATOR_CONFIGMAPS[volume["configMap"]["name"]], path
    assert "secret" in volume or "configMap" in volume, volume
    return str(volume["name"])


def test_the_hub_deployment_gives_the_hub_every_setting_it_needs_to_start(
    tmp_path: Path,
) -> None:
    """The hub's own start-up loaders accept the Deployment's settings, with development files
    where the Deployment mounts its Secrets and ConfigMaps."""
    deployment = _workload("renkei-hub")
    env = _environment(deployment)
    files = [KEYS_FILE_ENV, "RENKEI_KAFKA_CA_FILE", *PUBLIC_SETTING.values()]
    for setting in files:
        assert setting in env, f"the hub Deployment does not set {setting}"
        _mounted(deployment, env[setting])
    for setting in ("KAFKA_BOOTSTRAP_SERVERS", "RENKEI_PARTITIONS", "RENKEI_REPLICATION"):
        assert env.get(setting), f"the hub Deployment does not set {setting}"
    assert env["RENKEI_HTTP_HOST"] == "0.0.0.0"
    # the same settings, each file made where the Deployment says it is
    local = {name: str(tmp_path / env[name].lstrip("/")) for name in files}
    control = generate_control_keys(tmp_path / "made")
    ca = issue_development_certificates(tmp_path / "made" / "tls").ca_file
    made = {
        KEYS_FILE_ENV: json.dumps(generate_key_set(secrets.token_bytes)),
        "RENKEI_KAFKA_CA_FILE": ca.read_text(),
    } | {setting: Path(control[setting]).read_text() for setting in PUBLIC_SETTING.values()}
    for setting, path in local.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(made[setting])
    started = env | local
    load_key_set(started)
    load_trust(started)
    connection = Connection.from_environment(environ=started)
    assert (connection.security_protocol, connection.sasl_username) == ("SASL_SSL", "hub")


def test_the_registration_job_signs_the_registrations_with_the_operators_key(
    tmp_path: Path,
) -> None:
    """Registrations are control records: the hub applies only those the operators signed."""
    job = _workload("renkei-register-agencies")
    env = _environment(job)
    setting = PRIVATE_SETTING[Signer.OPERATOR]
    assert setting in env, f"the registration Job does not set {setting}"
    assert _mounted(job, env[setting]) == "operator-signing"
    volume = next(v for v in job["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "operator-signing")  # fmt: skip
    assert "secret" in volume  # a private key: a Secret, never a ConfigMap
    made = generate_control_keys(tmp_path / "made")
    local = tmp_path / env[setting].lstrip("/")
    local.parent.mkdir(parents=True)
    local.write_bytes(Path(made[setting]).read_bytes())
    signing = load_signing(env | {setting: str(local)})
    assert signing.keys.keys() == {Signer.OPERATOR}


def test_the_portal_runs_as_one_replica_with_the_hubs_public_keys() -> None:
    """One replica: the hub's replies to the portal (a first sign-in's enrolment) reach the
    portal's consumer group, i.e. whichever replica owns the partition, not the one that asked."""
    deployment = _workload("renkei-portal")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # no second one in a rollout
    env = _environment(deployment)
    for setting in (HUB_SEALING_KEY_ENV, "RENKEI_RECORD_VERIFY_KEYS", PORTAL_TOKEN_KEY,
                    "RENKEI_PORTAL_SECRET", "KAFKA_BOOTSTRAP_SERVERS"):  # fmt: skip
        assert setting in env, f"the portal Deployment does not set {setting}"
    _mounted(deployment, env["RENKEI_KAFKA_CA_FILE"])
    connection = Connection.from_environment(
        environ=env | {"RENKEI_KAFKA_CA_FILE": ""}  # the CA: checked above
    )
    assert (connection.security_protocol, connection.sasl_username) == ("SASL_SSL", "portal")


# ---- the ACLs against DOMAIN.md §4 -----------------------------------------------------------

# DOMAIN.md §4: topic -> (written by, read by). "agency" stands for the topic's own agency.
SECTION_4 = {
    "agency.{agency}.out": ({"agency"}, {"hub"}),
    "agency.{agency}.in": ({"hub"}, {"agency"}),
    PERSONS: ({"hub"}, {"hub"}),
    STATE: ({"hub"}, {"hub"}),
    LAYOUT: ({"hub"}, {"hub"}),
    PROVISION_RECORDS: ({"hub"}, {"portal", "ppc"}),
    CONTROL: ({"operator", "ppc"}, {"hub"}),
    DEAD_LETTERS: ({"hub"}, {"operator"}),
}
# Reads the table does not list, each granted for a reason the specification gives elsewhere.
BEYOND_SECTION_4 = {
    (PROVISION_RECORDS, "hub"),  # §12: a replayed request is answered from its record
    (CONTROL, "ppc"),  # §11: the oversight body reads the suspensions it made
    (DEAD_LETTERS, "ppc"),  # §14: refused assertions (NOT_ENTITLED) are counted for oversight
    # §11: the oversight body reads (never writes) agency topics for the number changes,
    # notices and acknowledgements it counts
    ("agency.{agency}.out", "ppc"),
}


def _grants(users: list[dict[str, Any]], topic: str, operation: str) -> set[str]:
    """The principals whose rendered KafkaUser ACLs allow `operation` on `topic`."""
    found = set()
    for user in users:
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            if resource["type"] != "topic" or operation not in acl["operations"]:
                continue
            name, pattern = resource["name"], resource["patternType"]
            if name == topic if pattern == "literal" else topic.startswith(name):
                found.add(user["metadata"]["name"])
    return found


def test_the_rendered_acls_are_the_topic_table_of_domain_section_4() -> None:
    users = list(documents(K8S / "base/generated/users.yaml"))
    agencies = [a.id for a in load_registry().agencies]
    assert {u["metadata"]["name"] for u in users} == {*agencies, "hub", "operator", "ppc"}
    for template, (writers, readers) in SECTION_4.items():
        for agency in agencies if "{agency}" in template else [None]:
            topic = template.format(agency=agency)

            def named(roles: set[str], agency: str | None = agency) -> set[str]:
                return {agency if r == "agency" else r for r in roles}

            assert _grants(users, topic, "Write") == named(writers), topic
            extra = {p for t, p in BEYOND_SECTION_4 if t in (topic, template)}
            assert _grants(users, topic, "Read") == named(readers) | extra, topic


def test_nobody_but_an_agency_and_the_hub_touches_its_topics_and_the_oversight_body_reads() -> None:
    users = list(documents(K8S / "base/generated/users.yaml"))
    for user in users:
        name = user["metadata"]["name"]
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            if resource["type"] == "topic" and resource["name"].startswith("agency."):
                if resource["patternType"] == "prefix":  # every agency's topics: offsets only
                    assert (name, acl["operations"]) == ("operator", ["Describe"])
                    continue
                owner = resource["name"].split(".")[1]
                reads_outbox = resource["name"].endswith(".out") and set(acl["operations"]) <= {
                    "Read",
                    "Describe",
                }
                assert name in (owner, "hub") or (name == "ppc" and reads_outbox), (
                    name,
                    resource["name"],
                )
