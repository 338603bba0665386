"""Oversight statistics: what the oversight body counts, from records built without a broker."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta

from hub.deadletters import DeadLetterReason
from oversight import Dimension, Filter, Provision, Refusal, observe, statistics_of
from oversight.report import to_csv
from schemas.topics import outbound
from schemas.vocabulary import DenialReason
from tests.oversight.records import (
    NOON,
    acknowledgement,
    notice,
    number_change,
    provision,
    provision_record,
    refused,
    suspension,
)


def test_provisions_and_denials_count_for_the_requester_per_purpose_row_sector_and_day() -> None:
    statistics = statistics_of(
        [
            provision("mun-27100"),
            provision("mun-27100"),
            provision("mun-27100", reason=DenialReason.TRIGGER_EXPIRED),
            provision("mun-27100", at=NOON + timedelta(days=1)),
            provision("jps", purpose="pension_exemption", row="pe-01"),
        ]
    )
    rows = dict(statistics.rows())
    today = ("2026-11-30", "mun-27100", "resident_tax_assessment", "tx-01", "tax")
    assert rows[today].provided == 2
    assert rows[today].denied == {"TRIGGER_EXPIRED": 1}
    assert rows[("2026-12-01", *today[1:])].provided == 1
    assert rows[("2026-11-30", "jps", "pension_exemption", "pe-01", "tax")].provided == 1


def test_grouping_by_agency_alone_adds_up_every_purpose_and_day() -> None:
    statistics = statistics_of(
        [
            provision("mun-27100"),
            provision("mun-27100", purpose="child_allowance", row="we-01"),
            provision("mun-27100", at=NOON + timedelta(days=3), reason=DenialReason.RATE_LIMITED),
        ]
    )
    [(key, counts)] = statistics.rows([Dimension.AGENCY])
    assert key == ("*", "mun-27100", "*", "*", "*")
    assert (counts.provided, counts.denied_total) == (2, 1)


def test_an_over_provision_counts_against_the_provider_not_the_requester() -> None:
    statistics = statistics_of([provision("mun-27100", over_provided=("household_members",))])
    by_agency = {key[1]: counts for key, counts in statistics.rows([Dimension.AGENCY])}
    assert by_agency["mun-13101"].over_provisions == 1
    assert by_agency["mun-27100"].over_provisions == 0
    assert by_agency["mun-27100"].provided == 1


def test_a_provider_timeout_is_a_timeout_not_a_denial() -> None:
    answered = provision()
    assert isinstance(answered, Provision)
    # The hub records PROVIDER_TIMEOUT as a denial reason; it is counted on its own.
    statistics = statistics_of([replace(answered, reason="PROVIDER_TIMEOUT")])
    [(_, counts)] = statistics.rows([Dimension.AGENCY])
    assert (counts.timeouts, counts.denied_total) == (1, 0)


def test_notices_acknowledgements_number_changes_and_suspensions_count_for_their_agency() -> None:
    statistics = statistics_of(
        [
            notice("jps"),
            notice("jps"),
            acknowledgement("jps"),
            number_change("mun-13101"),
            suspension("mun-01100"),
            suspension("mun-01100", suspended=False),
        ]
    )
    by_agency = {key[1]: counts for key, counts in statistics.rows([Dimension.AGENCY])}
    assert (by_agency["jps"].notices, by_agency["jps"].acknowledgements) == (2, 1)
    assert by_agency["mun-13101"].number_changes == 1
    assert by_agency["mun-01100"].suspensions == 1
    assert "portal" not in by_agency  # the portal carries acknowledgements; the sender is credited


def test_dead_letters_count_by_the_domain_reason_the_hub_gave() -> None:
    statistics = statistics_of(
        [
            refused("mun-27100"),
            refused("mun-27100", detail="FUTURE_DATED: dated 2 h ahead of the hub's clock"),
            refused("mun-27100", DeadLetterReason.UNDECODABLE, "TRUNCATED: input ends early"),
            refused("mun-27100", DeadLetterReason.OVERSIZE, "300000 bytes, limit 262144"),
        ]
    )
    [(_, counts)] = statistics.rows([Dimension.AGENCY])
    assert counts.refused == {
        "NOT_ENTITLED": 1, "FUTURE_DATED": 1, "UNDECODABLE": 1, "OVERSIZE": 1,
    }  # fmt: skip


def test_an_unknown_or_garbled_reason_is_counted_not_fatal() -> None:
    letter = observe(
        "renkei.dead-letters",
        b"x",
        [("renkei-dlq-reason", b"SOMETHING_NEW"), ("renkei-dlq-topic", outbound("nta").encode())],
        0,
    )
    garbled = observe("renkei.dead-letters", b"x", [("renkei-dlq-reason", b"\xff<script>")], 0)
    assert isinstance(letter, Refusal)
    assert letter.reason == "SOMETHING_NEW"
    assert isinstance(garbled, Refusal)
    assert garbled.reason == "OTHER"
    assert garbled.agency is None


def test_records_the_oversight_body_does_not_count_make_no_observation() -> None:
    assert observe("renkei.provision-records", b"not avro", (), 0) is None
    assert observe(outbound("mun-27100"), provision_record(), (), 0) is None
    assert observe("renkei.hub.persons", provision_record(), (), 0) is None


def test_a_filter_keeps_only_the_agencies_and_days_asked_for() -> None:
    only = Filter(frozenset({"jps"}), since=date(2026, 12, 1), until=date(2026, 12, 1))
    statistics = statistics_of(
        [
            provision("jps"),
            provision("jps", at=NOON + timedelta(days=1)),
            provision("mun-27100", at=NOON + timedelta(days=1)),
        ],
        only,
    )
    assert [key[:2] for key, _ in statistics.rows()] == [("2026-12-01", "jps")]


def test_csv_has_a_column_per_measure_and_per_reason_that_occurs() -> None:
    statistics = statistics_of(
        [provision("jps"), provision("jps", reason=DenialReason.NO_LEGAL_BASIS), refused("jps")]
    )
    header, row = to_csv(statistics, [Dimension.AGENCY]).splitlines()
    columns = header.split(",")
    assert columns[:4] == ["agency", "provided", "disclosed", "denied"]
    assert columns[-2:] == ["denied_NO_LEGAL_BASIS", "refused_NOT_ENTITLED"]
    values = dict(zip(columns, row.split(","), strict=True))
    assert values["agency"] == "jps"
    assert (values["provided"], values["denied_NO_LEGAL_BASIS"]) == ("1", "1")
    assert values["refused_NOT_ENTITLED"] == "1"


def test_metrics_carry_agency_and_reason_labels_only() -> None:
    from prometheus_client import REGISTRY

    from oversight import metrics

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = sample("renkei_oversight_provisions_total", agency="mun-01100",
                    outcome="NO_TRIGGER_EVENT")  # fmt: skip
    refused_before = sample("renkei_oversight_refused_total", agency="mun-01100",
                            reason="NOT_ENTITLED")  # fmt: skip
    metrics.count(provision("mun-01100", reason=DenialReason.NO_TRIGGER_EVENT))
    metrics.count(refused("mun-01100"))
    assert sample("renkei_oversight_provisions_total", agency="mun-01100",
                  outcome="NO_TRIGGER_EVENT") == before + 1  # fmt: skip
    assert sample("renkei_oversight_refused_total", agency="mun-01100",
                  reason="NOT_ENTITLED") == refused_before + 1  # fmt: skip
    for family in REGISTRY.collect():
        if family.name.startswith("renkei_oversight"):
            for s in family.samples:
                assert set(s.labels) <= {"agency", "outcome", "reason", "rule", "kind"}


def test_a_disclosed_trigger_event_counts_for_its_receiver_apart_from_provisions() -> None:
    event = uuid.uuid4()
    disclosure = observe(
        "renkei.provision-records",
        provision_record("med-0002", "med-0001", trigger=event, request_id=event),
        (),
        0,
    )
    assert isinstance(disclosure, Provision)
    assert disclosure.disclosure
    [(_, counts)] = statistics_of([disclosure]).rows([Dimension.AGENCY])
    assert (counts.disclosed, counts.provided) == (1, 0)
