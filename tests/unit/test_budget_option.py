"""`renkei hub run --budget`: a malformed budget is refused before anything connects."""

from __future__ import annotations

from typer.testing import CliRunner

from hub.cli import hub_app


def test_a_malformed_budget_is_refused_with_the_form_it_should_take() -> None:
    result = CliRunner().invoke(hub_app, ["run", "--budget", "mun-13101=lots"])
    assert result.exit_code == 2
    assert "AGENCY=CAPACITY/PER_SECOND" in result.output
