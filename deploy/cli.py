"""`renkei deploy …`: the Kubernetes manifests that come from the registry, and the
development certificates of the compose deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.local.certificates import LOCAL_HOSTS, issue_development_certificates
from deploy.render import K8S, REGISTRY, RegistryError, load_registry, write

deploy_app = typer.Typer(help="Deployment manifests generated from the registry.",
                         no_args_is_help=True)  # fmt: skip


@deploy_app.command("render")
def render(
    registry: Annotated[Path, typer.Option(help="The registry of agencies and the hub layout.")] = (
        REGISTRY
    ),
    out: Annotated[Path, typer.Option(help="The kustomize tree to write into.")] = K8S,
) -> None:
    """Write the topics, users and ACLs, agency registrations and autoscaling bounds that
    follow from the registry (the hand-written manifests beside them are left alone)."""
    try:
        loaded = load_registry(registry)
    except RegistryError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    for path in write(loaded, out):
        typer.echo(f"wrote {path}")
    typer.echo(f"{len(loaded.agencies)} agencies, {loaded.hub_partitions} hub partitions")


@deploy_app.command("dev-certificates")
def dev_certificates(
    out: Annotated[
        Path, typer.Option(help="The directory to write ca.pem and broker-keystore.pem into.")
    ],
    host: Annotated[
        list[str] | None,
        typer.Option(
            help="A name or address the brokers are "
            "reached at (repeat it); 127.0.0.1 and localhost are always included."
        ),
    ] = None,
) -> None:
    """A development CA and the one broker certificate (CN=admin, the controller listener's
    principal) every broker of a development cluster shares. Never for production: the
    cluster's own CA issues each broker its certificate there (deploy/k8s: Strimzi)."""
    hosts = (*dict.fromkeys([*(host or []), *LOCAL_HOSTS]),)
    made = issue_development_certificates(out, hosts=hosts, days=365)
    typer.echo(f"wrote {made.ca_file} and {made.broker_keystore} for {', '.join(hosts)}")
