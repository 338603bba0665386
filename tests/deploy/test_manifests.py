"""Every Kubernetes manifest validates offline, the generated ones are what the registry
renders today, and the rendered ACLs are DOMAIN.md §4's topic table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploy.render import K8S, build, dump, load_registry
from hub.stage import StageConfig
from hub.topics import CONTROL, DEAD_LETTERS, LAYOUT, PERSONS, PROVISION_RECORDS, STATE

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
                assert resource["patternType"] == "literal"  # never every agency's topics
                owner = resource["name"].split(".")[1]
                reads_outbox = resource["name"].endswith(".out") and set(acl["operations"]) <= {
                    "Read",
                    "Describe",
                }
                assert name in (owner, "hub") or (name == "ppc" and reads_outbox), (
                    name,
                    resource["name"],
                )
