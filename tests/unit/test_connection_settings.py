"""Kafka credentials come from configuration, and a missing or wrong setting names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.certificates import issue_development_certificates
from producers.connection import Connection
from producers.errors import ConnectionSettingsError


def test_a_secured_connection_is_read_from_the_environment(tmp_path: Path) -> None:
    ca = issue_development_certificates(tmp_path).ca_file
    connection = Connection.from_environment(
        environ={
            "RENKEI_KAFKA_BOOTSTRAP": "127.0.0.1:19094",
            "RENKEI_KAFKA_USERNAME": "mun-13101",
            "RENKEI_KAFKA_PASSWORD": "s3cret",
            "RENKEI_KAFKA_CA_FILE": str(ca),
        }
    )
    options = connection.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "mun-13101"
    assert options["ssl_context"] is not None
    assert "s3cret" not in repr(connection)


def test_a_missing_password_names_the_setting_to_set() -> None:
    with pytest.raises(ConnectionSettingsError, match="set RENKEI_KAFKA_PASSWORD"):
        Connection.from_environment("127.0.0.1:1", environ={"RENKEI_KAFKA_USERNAME": "mun-13101"})


def test_missing_credentials_name_both_settings_and_the_unsecured_alternative() -> None:
    with pytest.raises(ConnectionSettingsError) as refused:
        Connection.from_environment("127.0.0.1:1", environ={})
    message = str(refused.value)
    assert "RENKEI_KAFKA_USERNAME and RENKEI_KAFKA_PASSWORD" in message
    assert "RENKEI_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in message


def test_no_address_names_the_setting() -> None:
    with pytest.raises(ConnectionSettingsError, match="RENKEI_KAFKA_BOOTSTRAP"):
        Connection.from_environment(environ={"RENKEI_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"})


def test_a_ca_file_that_is_not_there_is_refused_by_name() -> None:
    with pytest.raises(ConnectionSettingsError, match="RENKEI_KAFKA_CA_FILE"):
        Connection.from_environment(
            "127.0.0.1:1",
            environ={"RENKEI_KAFKA_CA_FILE": "/nonexistent/ca.pem",
                     "RENKEI_KAFKA_USERNAME": "a", "RENKEI_KAFKA_PASSWORD": "b"},
        )  # fmt: skip


def test_settings_may_come_from_a_file_and_the_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "kafka.env"
    config.write_text(
        "# hub credentials\nRENKEI_KAFKA_BOOTSTRAP=10.0.0.1:9094\n"
        "RENKEI_KAFKA_USERNAME=hub\nRENKEI_KAFKA_PASSWORD=from-file\n"
        "RENKEI_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT\n"
    )
    connection = Connection.from_environment(
        environ={"RENKEI_KAFKA_CONFIG": str(config), "RENKEI_KAFKA_PASSWORD": "from-env"}
    )
    assert connection.bootstrap == "10.0.0.1:9094"
    assert connection.sasl_username == "hub"
    assert connection.sasl_password == "from-env"


def test_a_malformed_settings_file_line_is_refused_with_its_number(tmp_path: Path) -> None:
    config = tmp_path / "kafka.env"
    config.write_text("RENKEI_KAFKA_USERNAME=hub\nPASSWORD=x\n")
    with pytest.raises(ConnectionSettingsError, match="line 2"):
        Connection.from_environment(environ={"RENKEI_KAFKA_CONFIG": str(config)})


def test_an_unsecured_broker_needs_only_its_address() -> None:
    connection = Connection.from_environment(
        "127.0.0.1:9092", environ={"RENKEI_KAFKA_SECURITY_PROTOCOL": "plaintext"}
    )
    assert connection.client_options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
