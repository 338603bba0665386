"""Codec benchmark: microseconds per encode + decode of typical messages.

Run with `python -m benchmarks.codec [--number N] [--repeat R] [--out FILE]`; writes
results/codec.json and prints a table. Figures:
the model path (`schemas.codec.encode` / `decode`, which validates on decode), and baselines
in the same run: raw fastavro `schemaless_writer` + `schemaless_reader` on a plain dict with the
logical-typed schema (what a straightforward fastavro codec costs) and with the plain schema the
model path uses. Where the time goes: the decode figure split into reading the body (the
generated decoder of `schemas.fastpath`) and pydantic validation, and the codec's fastavro path
(what it runs for released writer schemas and unusual input, and ran for everything before the
fast path). Each figure is the best of several repeats (least disturbed by the machine).
The target ratio (issue 15): encode + decode ≤ 0.5 × raw fastavro's time with the logical-typed
schema (the straightforward fastavro codec), in `ratios`; against the plain schema beside it.
"""

from __future__ import annotations

import argparse
import os
import timeit
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import pydantic

from benchmarks.common import RESULTS, machine, now_iso, ratio, write_results
from schemas import codec
from schemas.models import (
    AttributeRequest,
    Message,
    Metadata,
    Outcome,
    ProvisionRecord,
)
from schemas.vocabulary import Sector

TARGET_US = 10.0
TARGET_RATIO = 0.5  # encode + decode ÷ raw fastavro (logical-typed schema)


def typical_attribute_request() -> AttributeRequest:
    return AttributeRequest(
        metadata=Metadata(
            message_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            sender="mun-13101",
            trace_parent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        request_id=uuid.uuid4(),
        person_code=os.urandom(48),
        provider="mun-27100",
        purpose="nhi_premium_assessment",
        legal_basis_row="nhi-income-after-relocation",
        attributes=["taxable_income", "resident_tax_amount"],
        trigger_event_id=uuid.uuid4(),
    )


def typical_provision_record() -> ProvisionRecord:
    return ProvisionRecord(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="hub"),
        record_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        requester="mun-13101",
        provider="mun-27100",
        purpose="nhi_premium_assessment",
        sector=Sector.HEALTH_INSURANCE,
        legal_basis_row="nhi-income-after-relocation",
        table_version="2026.1",
        attributes=["taxable_income", "resident_tax_amount"],
        trigger_event_id=uuid.uuid4(),
        subject_code=os.urandom(48),
        outcome=Outcome.PROVIDED,
        chain_partition=7,
        chain_sequence=123_456,
        previous_hash=os.urandom(32),
        record_hash=os.urandom(32),
    )


def _best_us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def measure(message: Message, number: int, repeat: int) -> dict[str, Any]:
    name = message.MESSAGE_TYPE
    data = codec.encode(message)
    assert codec.decode(data) == message
    writer = codec.REGISTRY.current[name]
    _, datum = codec.decode_dict(data)
    plain_datum = codec.REGISTRY.mappers.to_datum[message.AVRO_NAME](message)

    def raw_round_trip(schema: Any, record: dict[str, Any]) -> Any:
        stream = BytesIO()
        fastavro.schemaless_writer(stream, schema, record)
        stream.seek(0)
        return fastavro.schemaless_reader(stream, schema, None)

    encode_us = _best_us(lambda: codec.encode(message), number, repeat)
    decode_us = _best_us(lambda: codec.decode(data), number, repeat)
    fast = writer.fast
    assert fast is not None
    arguments = fast.decode(data)
    validate = type(message).__pydantic_validator__.validate_python

    def fastavro_encode() -> bytes:
        return codec._write(
            name, codec.REGISTRY.mappers.to_datum[message.AVRO_NAME](message), plain=True
        )

    def fastavro_decode() -> Message:
        return codec._to_model(name, codec._read(data, writer, plain=True))

    assert fastavro_encode() == data
    assert fastavro_decode() == message
    figures: dict[str, Any] = {
        "bytes": len(data),
        "encode_us": round(encode_us, 2),
        "decode_us": round(decode_us, 2),
        "encode_plus_decode_us": round(encode_us + decode_us, 2),
        "baseline_fastavro_logical_us": round(
            _best_us(lambda: raw_round_trip(writer.parsed, datum), number, repeat), 2
        ),
        "baseline_fastavro_plain_us": round(
            _best_us(lambda: raw_round_trip(writer.plain, plain_datum), number, repeat), 2
        ),
        "decode_body_us": round(_best_us(lambda: fast.decode(data), number, repeat), 2),
        "decode_validate_us": round(_best_us(lambda: validate(arguments), number, repeat), 2),
        "fastavro_path_encode_us": round(_best_us(fastavro_encode, number, repeat), 2),
        "fastavro_path_decode_us": round(_best_us(fastavro_decode, number, repeat), 2),
    }
    figures["to_raw_fastavro"] = ratio(
        figures["encode_plus_decode_us"], figures["baseline_fastavro_logical_us"]
    )
    figures["to_raw_fastavro_plain_schema"] = ratio(
        figures["encode_plus_decode_us"], figures["baseline_fastavro_plain_us"]
    )
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=5, help="repeats; the best counts")
    parser.add_argument("--out", type=Path, default=RESULTS / "codec.json")
    a = parser.parse_args(argv)
    number, repeat = a.number, a.repeat
    figures: dict[str, Any] = {
        "AttributeRequest": measure(typical_attribute_request(), number, repeat),
        "ProvisionRecord": measure(typical_provision_record(), number, repeat),
    }
    result = {
        "benchmark": "codec",
        "when": now_iso(),
        "unit": "microseconds per message (best of repeats)",
        "target_encode_plus_decode_us": TARGET_US,
        "target_to_raw_fastavro": TARGET_RATIO,
        "machine": machine() | {"fastavro": fastavro.__version__, "pydantic": pydantic.VERSION},
        "iterations": {"number": number, "repeat": repeat},
        "results": figures,
        "ratios": {
            f"{name}_encode_plus_decode_to_raw_fastavro": f["to_raw_fastavro"]
            for name, f in figures.items()
        },
    }
    write_results(a.out, result)
    header = (
        f"{'message':<18}{'bytes':>6}{'encode':>9}{'decode':>9}{'enc+dec':>9}"
        f"{'raw fastavro':>14}{'raw plain':>11}{'(body':>8}{'+ valid.)':>10}{'fastavro path':>15}"
        f"{'ratio':>7}"
    )
    print(header)
    for name, f in figures.items():
        print(
            f"{name:<18}{f['bytes']:>6}{f['encode_us']:>9.2f}{f['decode_us']:>9.2f}"
            f"{f['encode_plus_decode_us']:>9.2f}{f['baseline_fastavro_logical_us']:>14.2f}"
            f"{f['baseline_fastavro_plain_us']:>11.2f}{f['decode_body_us']:>8.2f}"
            f"{f['decode_validate_us']:>10.2f}"
            f"{f['fastavro_path_encode_us'] + f['fastavro_path_decode_us']:>15.2f}"
            f"{f['to_raw_fastavro']!s:>7}"
        )
    print(
        f"(µs per message; ratio = enc+dec ÷ raw fastavro, target <= {TARGET_RATIO}; "
        f"written to {a.out})"
    )
    return result


if __name__ == "__main__":
    main()
