"""How a client reaches the Kafka cluster: bootstrap servers and its credentials.

Each agency authenticates as its own principal (SASL/SCRAM over TLS), and the cluster's ACLs
let it write only `agency.<id>.out` and read only `agency.<id>.in` (DOMAIN.md §4). The password
is kept out of `repr` so a logged configuration never shows it.

Credentials come from configuration, never from code: `Connection.from_environment()` reads

| setting | meaning | default |
|---|---|---|
| `RENKEI_KAFKA_BOOTSTRAP` (or `KAFKA_BOOTSTRAP_SERVERS`) | bootstrap servers | required |
| `RENKEI_KAFKA_SECURITY_PROTOCOL` | `SASL_SSL`; `PLAINTEXT` if unsecured | `SASL_SSL` |
| `RENKEI_KAFKA_SASL_MECHANISM` | SASL mechanism | `SCRAM-SHA-512` |
| `RENKEI_KAFKA_USERNAME` | this client's principal | required with SASL |
| `RENKEI_KAFKA_PASSWORD` | its password | required with SASL |
| `RENKEI_KAFKA_CA_FILE` | PEM file of the CA that signed the brokers' certificates | system trust |

`RENKEI_KAFKA_CONFIG` may name a file of `NAME=value` lines with the same names (a mounted
secret, say); the environment wins over the file.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from producers.errors import ConnectionSettingsError

SETTINGS = (
    "RENKEI_KAFKA_BOOTSTRAP",
    "RENKEI_KAFKA_SECURITY_PROTOCOL",
    "RENKEI_KAFKA_SASL_MECHANISM",
    "RENKEI_KAFKA_USERNAME",
    "RENKEI_KAFKA_PASSWORD",
    "RENKEI_KAFKA_CA_FILE",
)
_PROTOCOLS = ("SASL_SSL", "SSL", "SASL_PLAINTEXT", "PLAINTEXT")


@dataclass(frozen=True, slots=True)
class Connection:
    """Bootstrap address and credentials; `PLAINTEXT` without SASL for an unsecured broker."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"  # SASL_SSL in production
    sasl_mechanism: str | None = None  # e.g. "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    client_id: str | None = None
    ca_file: str | None = None  # where ssl_context's CA came from (for non-aiokafka tools)

    @classmethod
    def from_environment(
        cls, bootstrap: str | None = None, environ: Mapping[str, str] | None = None
    ) -> Connection:
        """The connection configured by RENKEI_KAFKA_* (see the module); `bootstrap`, if
        given, replaces the configured address (a command's --bootstrap option)."""
        settings = _settings(os.environ if environ is None else environ)
        address = (
            bootstrap
            or settings.get("RENKEI_KAFKA_BOOTSTRAP")
            or settings.get("KAFKA_BOOTSTRAP_SERVERS")
        )
        if not address:
            raise ConnectionSettingsError(
                "no Kafka bootstrap servers: set RENKEI_KAFKA_BOOTSTRAP (or pass --bootstrap)"
            )
        protocol = settings.get("RENKEI_KAFKA_SECURITY_PROTOCOL", "SASL_SSL").upper()
        if protocol not in _PROTOCOLS:
            raise ConnectionSettingsError(
                f"RENKEI_KAFKA_SECURITY_PROTOCOL={protocol} is not one of {', '.join(_PROTOCOLS)}"
            )
        context: ssl.SSLContext | None = None
        ca_file: str | None = None
        if protocol in ("SASL_SSL", "SSL"):
            ca_file = settings.get("RENKEI_KAFKA_CA_FILE")
            if ca_file and not Path(ca_file).is_file():
                raise ConnectionSettingsError(
                    f"RENKEI_KAFKA_CA_FILE names no readable file ({ca_file})"
                )
            context = create_ssl_context(cafile=ca_file) if ca_file else create_ssl_context()
        if not protocol.startswith("SASL"):
            return cls(address, protocol, ssl_context=context, ca_file=ca_file)
        username = settings.get("RENKEI_KAFKA_USERNAME")
        password = settings.get("RENKEI_KAFKA_PASSWORD")
        missing = [
            name
            for name, value in (
                ("RENKEI_KAFKA_USERNAME", username),
                ("RENKEI_KAFKA_PASSWORD", password),
            )
            if not value
        ]
        if missing:
            raise ConnectionSettingsError(
                f"{protocol} needs credentials: set {' and '.join(missing)} (or "
                "RENKEI_KAFKA_CONFIG=FILE with them; RENKEI_KAFKA_SECURITY_PROTOCOL=PLAINTEXT "
                "for an unsecured broker)"
            )
        return cls(
            address,
            protocol,
            settings.get("RENKEI_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            username,
            password,
            context,
            ca_file=ca_file,
        )

    def as_principal(self, username: str, password: str) -> Connection:
        """The same cluster and trust, another principal's credentials (operator tooling)."""
        return Connection(
            self.bootstrap,
            self.security_protocol if self.security_protocol.startswith("SASL") else "SASL_SSL",
            self.sasl_mechanism or "SCRAM-SHA-512",
            username,
            password,
            self.ssl_context,
            self.client_id,
            self.ca_file,
        )

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments common to aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.client_id is not None:
            options["client_id"] = self.client_id
        if self.sasl_mechanism is not None:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        return options


def kafka_options(bootstrap: str | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments for this process's configured principal (one process, one
    principal: the hub, an operator's command); `bootstrap` overrides the configured address."""
    return Connection.from_environment(bootstrap).client_options()


def _settings(environ: Mapping[str, str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    config = environ.get("RENKEI_KAFKA_CONFIG")
    if config:
        path = Path(config)
        if not path.is_file():
            raise ConnectionSettingsError(f"RENKEI_KAFKA_CONFIG names no readable file ({config})")
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep or name.strip() not in (*SETTINGS, "KAFKA_BOOTSTRAP_SERVERS"):
                raise ConnectionSettingsError(
                    f"{config} line {number}: expected NAME=value with NAME one of "
                    f"{', '.join(SETTINGS)}"
                )
            settings[name.strip()] = value.strip()
    for name in (*SETTINGS, "KAFKA_BOOTSTRAP_SERVERS"):
        if environ.get(name):
            settings[name] = environ[name]
    return settings
