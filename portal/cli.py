"""`renkei portal …`: run the citizen portal (マイ・ポータル)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from typing import Annotated

import typer

from portal.database import DEFAULT_DATABASE, DatabaseUrlError, async_url
from portal.service import PortalConfig, serve
from portal.tokens import KEY_VARIABLE, TokenIssuer, TokenKeyError
from producers import Connection
from producers.errors import ConnectionSettingsError
from schemas.provision_records import VerifyKeyError, parse_verify_keys

portal_app = typer.Typer(help="The citizen portal (マイ・ポータル): web pages over a read model.")


@portal_app.command("token-key")
def token_key() -> None:
    """Print the public key of the portal's consent-token issuer (id and hex), for the hub's
    list of trusted issuers. The private seed comes from RENKEI_PORTAL_TOKEN_KEY."""
    try:
        issuer = TokenIssuer.from_environment()
    except TokenKeyError as exc:
        raise typer.BadParameter(str(exc), param_hint="RENKEI_PORTAL_TOKEN_KEY") from None
    if not os.environ.get(KEY_VARIABLE):
        raise typer.BadParameter(
            "set it to the portal's 32-byte seed in hex", param_hint=KEY_VARIABLE
        )
    typer.echo(f"{issuer.key_id} {issuer.public_key_hex}")


@portal_app.command("run")
def run(
    bootstrap: Annotated[
        str | None,
        typer.Option(
            envvar="KAFKA_BOOTSTRAP_SERVERS",
            help="Kafka bootstrap servers (credentials from RENKEI_KAFKA_*).",
        ),
    ] = None,
    database: Annotated[
        str, typer.Option(help="sqlite:///file.db (default) or postgresql://user@host/db.")
    ] = DEFAULT_DATABASE,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    seed: Annotated[int, typer.Option(help="Seed of the test identities' population.")] = 7,
    persons: Annotated[int, typer.Option(help="Size of that population.")] = 1000,
    verify_keys: Annotated[
        str | None,
        typer.Option(
            envvar="RENKEI_RECORD_VERIFY_KEYS",
            help="The hub's public record keys (renkei keys public): each provision record's "
            "signature is checked with them.",
        ),
    ] = None,
) -> None:
    """Serve the portal: sign-in with a development identity, the person's records, notices,
    consents and proxies. The session secret comes from RENKEI_PORTAL_SECRET (random if unset:
    sessions then end with the process). With RENKEI_OVERSIGHT_CREDENTIAL set, the oversight
    body's pages are mounted at /oversight (staff sign in with that credential)."""
    try:
        async_url(database)
    except DatabaseUrlError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database") from None
    try:
        connection = Connection.from_environment(bootstrap)
    except ConnectionSettingsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--bootstrap / RENKEI_KAFKA_*") from None
    try:
        tokens = TokenIssuer.from_environment()
    except TokenKeyError as exc:
        raise typer.BadParameter(str(exc), param_hint=KEY_VARIABLE) from None
    try:
        keys = None if verify_keys is None else parse_verify_keys(verify_keys)
    except VerifyKeyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--verify-keys") from None
    config = PortalConfig(
        connection,
        database_url=database,
        host=host,
        port=port,
        seed=seed,
        persons=persons,
        tokens=tokens,
        record_verify_keys=keys,
    )
    secret = os.environ.get("RENKEI_PORTAL_SECRET")
    if secret:
        config = dataclasses.replace(config, secret_key=secret)
    from oversight.web import extensions_from_environment

    try:
        extensions = extensions_from_environment(bootstrap)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="RENKEI_OVERSIGHT_CREDENTIAL") from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, extensions))
