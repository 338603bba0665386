"""`renkei deploy …`: the Kubernetes manifests that come from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
