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

from hub.core.keyring import Keyring
from hub.core.keys import KeySetError, generate_key_set, parse_key_set, rotate

keys_app = typer.Typer(
    help="Key sets for link codes, the blind index, reply tokens, sealed numbers and record "
    "signatures."
)


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
    section: Annotated[
        str, typer.Option(help="link_codes, reply_tokens, sealing or record_signing")
    ] = "reply_tokens",
) -> None:
    """Add a new current key generation; codes, tokens, sealed numbers and signatures made
    with older ones stay valid. A key set without a sealing or record-signing section gets
    its first one this way."""
    try:
        document = json.loads(file.read_text("utf-8"))
        rotated = rotate(document, section, secrets.token_bytes)
        parse_key_set(rotated)
    except (OSError, json.JSONDecodeError, KeySetError) as exc:
        typer.echo(f"cannot rotate {file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    _write_private(file, rotated)
    typer.echo(f"{section}: current key id is now {rotated[section]['current']}")


@keys_app.command("public")
def public_command(
    file: Annotated[Path, typer.Argument(help="The hub's key file.")],
) -> None:
    """Print the public halves agencies and readers need: the sealing key agencies seal
    numbers to (RENKEI_HUB_SEALING_KEY) and the keys that verify provision records."""
    try:
        keyring = Keyring.from_key_set(parse_key_set(json.loads(file.read_text("utf-8"))))
    except (OSError, json.JSONDecodeError, KeySetError) as exc:
        typer.echo(f"cannot read {file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"RENKEI_HUB_SEALING_KEY={keyring.public_sealing_key}")
    verify_keys = ",".join(
        f"{key_id}:{key.public_bytes_raw().hex()}"
        for key_id, key in sorted(keyring.record_verify_keys.items())
    )
    typer.echo(f"RENKEI_RECORD_VERIFY_KEYS={verify_keys}")


@keys_app.command("trust-issuer")
def trust_issuer(
    key_set: Annotated[Path, typer.Argument(help="The hub's key file: it will trust the key.")],
    key_id: Annotated[str, typer.Argument(help="The issuer key's id (as its tokens name it).")],
    public_key: Annotated[str, typer.Argument(help="Its Ed25519 public key, 64 hex digits.")],
) -> None:
    """Trust a consent-token issuer: the portal's public key, as `renkei portal token-key`
    prints it (`renkei keys trust-issuer keys.json $(renkei portal token-key)`). The hub then
    verifies the tokens the portal signs without holding its secret."""
    try:
        document = json.loads(key_set.read_text("utf-8"))
        issuers = dict(document.get("consent_token_issuers", {}))
        issuers[key_id] = public_key
        updated = {**document, "consent_token_issuers": issuers}
        parse_key_set(updated)
    except (OSError, json.JSONDecodeError, KeySetError) as exc:
        typer.echo(f"cannot add the issuer to {key_set}: {exc}", err=True)
        raise typer.Exit(1) from exc
    _write_private(key_set, updated)
    typer.echo(f"{key_set} trusts consent tokens signed with {key_id}")


@keys_app.command("control")
def control_keys(
    out: Annotated[Path, typer.Option("--out", help="Directory for the four key files.")],
) -> None:
    """Development Ed25519 keys that sign control commands (operator) and suspensions (ppc),
    and the public halves the hub trusts."""
    from hub.control_signatures import generate_control_keys

    for name, value in generate_control_keys(out).items():
        typer.echo(f"export {name}={value}")
