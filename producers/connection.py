"""How an agency reaches the Kafka cluster: bootstrap servers and its credentials.

Each agency authenticates as its own principal (SASL), and the cluster's ACLs let it write only
`agency.<id>.out` and read only `agency.<id>.in` (DOMAIN.md §4). The password is kept out of
`repr` so a logged configuration never shows it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Connection:
    """Bootstrap address and credentials; `PLAINTEXT` without SASL for local development."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"  # SASL_SSL in production
    sasl_mechanism: str | None = None  # e.g. "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    client_id: str | None = None

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
