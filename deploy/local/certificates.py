"""A development certificate authority for the local broker, made with `cryptography`.

Every secured local cluster gets a fresh CA and one broker certificate (for 127.0.0.1 and
localhost), written as PEM files into the cluster's own temporary directory and deleted with
it: nothing here is ever committed or reused. Clients trust the CA file (`RENKEI_KAFKA_CA_FILE`).
The compose deployment makes its set with `renkei deploy dev-certificates` (the brokers'
container names as hosts) into a volume of its own.

The broker certificate's subject is `CN=admin`: on the controller listener the node proves
who it is with this certificate (mutual TLS), and the principal it maps to is the bootstrap
admin, the only super user (see broker.py).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_COMMON_NAME = "admin"


@dataclass(frozen=True)
class DevelopmentCertificates:
    """Where the PEM files are: the CA certificate clients trust, and the broker's key store
    (private key followed by its certificate chain, the form Kafka's PEM key store reads)."""

    ca_file: Path
    broker_keystore: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Renkei development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _subject_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_development_certificates(
    directory: Path,
    *,
    days: int = 7,
    ca_name: str = "Renkei development CA",
    hosts: tuple[str, ...] = LOCAL_HOSTS,
) -> DevelopmentCertificates:
    """Create a CA and a broker certificate signed by it in `directory` (mode 0600 keys), the
    certificate valid for `hosts` (names or IP addresses; every broker of a cluster shares it)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(BROKER_COMMON_NAME))
        .issuer_name(ca_cert.subject)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(_subject_names(hosts)),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(_pem(ca_cert))
    keystore = directory / "broker-keystore.pem"
    key_pem = broker_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keystore.touch(mode=0o600)
    keystore.write_bytes(key_pem + _pem(broker_cert) + _pem(ca_cert))
    return DevelopmentCertificates(ca_file, keystore)
