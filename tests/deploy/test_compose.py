"""The compose deployment is a valid compose file, Prometheus scrapes every hub replica, and
the Grafana dashboard only asks for metrics the hub exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import hub.metrics  # noqa: F401  (registers the hub's metrics)

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose"


def _config() -> dict[str, object]:
    """`docker-compose config`: the file as compose itself reads it (interpolated, merged)."""
    binary = shutil.which("docker-compose")
    assert binary is not None, "docker-compose is not installed (.ci/run installs it)"
    env = os.environ | {"RENKEI_ADMIN_PASSWORD": "checked-only"}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE / "compose.yaml"), "config"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def test_compose_accepts_the_file_with_three_brokers_at_replication_3_and_two_hubs() -> None:
    """…every listener over TLS (SCRAM on the client listeners, mutual TLS for the
    controllers), and the clients trust the deployment's CA."""
    services = _config()["services"]
    assert isinstance(services, dict)
    brokers = [s for s in services if s.startswith("kafka-")]
    assert len(brokers) == 3
    for name in brokers:
        env = services[name]["environment"]
        assert env["KAFKA_CFG_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_CFG_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_CFG_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        protocols = dict(
            pair.split(":") for pair in env["KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
        )
        assert protocols == {"INTERNAL": "SASL_SSL", "EXTERNAL": "SASL_SSL", "CONTROLLER": "SSL"}
        assert env["KAFKA_CFG_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH"] == "required"
        assert env["KAFKA_CFG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "https"
    setup = services["setup"]["environment"]
    assert setup["RENKEI_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert setup["RENKEI_KAFKA_CA_FILE"].startswith("/etc/renkei/tls/")
    hubs = [s for s in services if s.startswith("hub-")]
    assert len(hubs) == 2
    for name in services:
        for port in services[name].get("ports", []):
            host = port.get("host_ip") if isinstance(port, dict) else port.split(":")[0]
            assert host == "127.0.0.1", (name, port)  # published on loopback only


def test_prometheus_scrapes_every_hub_replica() -> None:
    services = _config()["services"]
    assert isinstance(services, dict)
    config = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text("utf-8"))
    targets = {t for job in config["scrape_configs"] if job["job_name"] == "renkei-hub"
               for group in job["static_configs"] for t in group["targets"]}  # fmt: skip
    hubs = {f"{name}:9400" for name in services if name.startswith("hub-")}
    assert targets == hubs


def test_the_dashboard_shows_the_panels_an_operator_watches_from_metrics_the_hub_exports() -> None:
    dashboard = json.loads((COMPOSE / "grafana" / "dashboards" / "renkei-hub.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exported = {m.name for m in REGISTRY.collect()}
    used = {re.sub(r"_(bucket|total)$", "", name)
            for e in exprs for name in re.findall(r"renkei_[a-z_]+", e)}  # fmt: skip
    assert used <= exported | {f"{m}_total" for m in exported}, used - exported
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for watched in ("denied per second, by reason", "commit latency", "lag per partition",
                    "dead letters", "rollout phase"):  # fmt: skip
        assert watched in titles
