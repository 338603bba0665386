"""`renkei hub publish-table` and `publish-trust` validate the file before anything is
published: an invalid one is refused at the command line with what is wrong, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import hub_app


@pytest.mark.parametrize(
    ("command", "document", "said"),
    [
        ("publish-table", '{"version": "x"}', "rows"),
        ("publish-trust", '{"version": "x", "facts": []}', "future_tolerance_seconds"),
        ("publish-trust", "{not json", "not JSON"),
    ],
)
def test_an_invalid_table_file_is_refused_before_anything_is_published(
    tmp_path: Path, command: str, document: str, said: str
) -> None:
    path = tmp_path / "table.json"
    path.write_text(document)
    # no broker listens on port 9: a command that got as far as publishing would fail otherwise
    result = CliRunner().invoke(hub_app, [command, str(path), "--bootstrap", "127.0.0.1:9"])
    assert result.exit_code == 1, result.output
    assert "Refused" in result.output
    assert said in result.output
