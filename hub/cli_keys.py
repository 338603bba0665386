"""`renkei keys ...`: make and rotate development key sets.

Production keys come from the operator's key management and reach the hub through
RENKEI_KEYS_FILE or RENKEI_KEYS_JSON; they are never committed.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from hub.core.keys import KeySetError, generate_key_set, parse_key_set, rotate

keys_app = typer.Typer(help="Key sets for link codes, the blind index and reply tokens.")


def _write_private(path: Path, document: dict[str, object]) -> None:
    """Write a key file readable by its owner only."""
    text = json.dumps(document, indent=2) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


@keys_app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Where to write the key file (JSON).")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Generate a development key set (never use it for real people's data)."""
    if out.exists() and not force:
        typer.echo(f"{out} exists; pass --force to overwrite it", err=True)
        raise typer.Exit(1)
    _write_private(out, generate_key_set(secrets.token_bytes, purpose="development"))
    typer.echo(f"wrote a development key set to {out}; point RENKEI_KEYS_FILE at it")


@keys_app.command("rotate")
def rotate_command(
    file: Annotated[Path, typer.Argument(help="The key file to rotate in place.")],
    section: Annotated[str, typer.Option(help="link_codes or reply_tokens")] = "reply_tokens",
) -> None:
    """Add a new current key generation; codes and tokens made with older ones stay valid."""
    try:
        document = json.loads(file.read_text("utf-8"))
        parse_key_set(document)
        rotated = rotate(document, section, secrets.token_bytes)
    except (OSError, json.JSONDecodeError, KeySetError) as exc:
        typer.echo(f"cannot rotate {file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    _write_private(file, rotated)
    typer.echo(f"{section}: current key id is now {rotated[section]['current']}")
