"""`renkei oversight …` refuses bad options with a message that says what is expected, before
it connects to anything."""

from __future__ import annotations

from typer.testing import CliRunner

from oversight.cli import oversight_app


def text(output: str) -> str:
    """The output as one line of words, without the boxes rich draws."""
    return " ".join(output.replace("│", " ").split())


def test_grouping_by_an_unknown_dimension_names_the_ones_there_are() -> None:
    result = CliRunner().invoke(oversight_app, ["stats", "--by", "agency,person"])
    assert result.exit_code == 2
    assert "day, agency, purpose, row, sector" in text(result.output)


def test_a_day_that_is_no_date_is_refused_with_the_format() -> None:
    result = CliRunner().invoke(oversight_app, ["stats", "--since", "2026-13-01"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in text(result.output)


def test_the_rules_are_listed_with_their_thresholds() -> None:
    result = CliRunner().invoke(oversight_app, ["rules"])
    assert result.exit_code == 0
    assert "OFF_HOURS_BULK: 50 or more requests" in text(result.output)
