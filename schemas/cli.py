"""`renkei schemas ...`: the evolution gate, releasing schema versions, generating the docs.

Mounted by the project CLI as a sub-app (`schemas_app`); runnable alone with
`python -m schemas.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schemas import evolution
from schemas.registry import AVRO_DIR, HISTORY_DIR, PACKAGE_DIR

DOCS_DIR = PACKAGE_DIR.parent / "docs"

schemas_app = typer.Typer(
    name="schemas",
    help="The wire contract: evolution gate, releases and generated documentation.",
    no_args_is_help=True,
)

AvroDir = Annotated[Path, typer.Option(help="Directory of the current .avsc files.")]
HistoryDir = Annotated[Path, typer.Option(help="Directory of released versions.")]


@schemas_app.command()
def check(avro_dir: AvroDir = AVRO_DIR, history_dir: HistoryDir = HISTORY_DIR) -> None:
    """Prove every current schema and every released version read each other's data."""
    problems = evolution.check(avro_dir, history_dir)
    if problems:
        typer.echo("Incompatible schema change; the gate refuses it:", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        typer.echo(
            "Give new fields a default, keep removed fields' defaults, add enum symbols only "
            "with an enum default, or introduce a new message type.",
            err=True,
        )
        raise typer.Exit(code=1)
    pending = evolution.unreleased(avro_dir, history_dir)
    typer.echo("Schemas compatible with every released version.")
    if pending:
        typer.echo(f"Not yet released (run `renkei schemas release`): {', '.join(pending)}")


@schemas_app.command()
def release(avro_dir: AvroDir = AVRO_DIR, history_dir: HistoryDir = HISTORY_DIR) -> None:
    """Copy every changed current schema into the history as its next version."""
    try:
        written = evolution.release(avro_dir, history_dir)
    except evolution.EvolutionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    if not written:
        typer.echo("Nothing to release: the history already holds every current schema.")
    for name, version in written:
        typer.echo(f"released {name} v{version}")


@schemas_app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Where to write the generated docs.")] = DOCS_DIR,
    check_only: Annotated[
        bool, typer.Option("--check", help="Only verify the files are up to date.")
    ] = False,
) -> None:
    """Generate docs/asyncapi.json (AsyncAPI 3.0) and docs/contract.md from the schemas."""
    from schemas.contract_page import generated_docs

    stale = []
    for name, text in generated_docs().items():
        path = out / name
        current = path.read_text("utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not check_only:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
            typer.echo(f"wrote {path}")
    if check_only and stale:
        typer.echo(f"Out of date: {', '.join(stale)} (run `renkei schemas docs`)", err=True)
        raise typer.Exit(code=1)
    if not stale:
        typer.echo("Docs are up to date.")


if __name__ == "__main__":
    schemas_app()
