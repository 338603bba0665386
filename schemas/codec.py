"""Avro single-object encoding of the contract's messages.

Wire format, exactly as the Avro specification defines single-object encoding::

    C3 01 | CRC-64-AVRO fingerprint of the writer schema's parsing canonical form, 8 bytes LE
          | Avro binary body

The fingerprint names the writer schema. The registry knows the current schema of every message
and every released version under `schemas/history/` (loaded the first time an unknown
fingerprint arrives); data written with an older version is resolved to the current schema.

Writing is strict: a missing or unknown field is an `EncodeError` naming the field, never
silently dropped. Reading fails only with `DecodeError`, whose `reason` says what was wrong and
whose message never contains the input (no numbers, codes or values): arbitrary bytes either
decode to a validated model or raise `DecodeError`.

Speed: schemas are parsed once. For the current schema of each message (the common case),
`schemas.fastpath` generates at load time an encoder and a decoder specialised to that schema:
encode writes the bytes straight from the model; decode reads the body into the model's
arguments, which pydantic then validates exactly as before, because input from agencies must
be validated (check digit, agency-id forms, ...). They are an optimisation only: whenever the
fast path gives up (unusual input, a model built without validation, a released writer
schema), fastavro's `schemaless_writer` / `schemaless_reader` run as they always have and give
the answer, and the tests prove both paths agree byte for byte and outcome for outcome.
`encode` trusts the model: it was validated when it was built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError as AvroValidationError
from fastavro.validation import validate
from pydantic import ValidationError

from schemas.fastpath import FastCodec, compile_codec
from schemas.mapping import ATTRIBUTE_VALUE, Mappers, plain_schema
from schemas.models import MESSAGE_MODELS, Message
from schemas.registry import (
    HISTORY_DIR,
    Schema,
    fingerprint,
    iter_history,
    load_schema_set,
    named_types,
)

MARKER = b"\xc3\x01"
HEADER_LENGTH = len(MARKER) + 8

M = TypeVar("M", bound=Message)


class DecodeReason(StrEnum):
    NOT_SINGLE_OBJECT = "NOT_SINGLE_OBJECT"  # no C3 01 marker
    UNKNOWN_FINGERPRINT = "UNKNOWN_FINGERPRINT"  # no current or released schema has it
    TRUNCATED = "TRUNCATED"  # the input ends inside the header or the body
    BODY_MISMATCH = "BODY_MISMATCH"  # the body is not a datum of the writer schema
    INVALID_CONTENT = "INVALID_CONTENT"  # well-formed Avro that breaks a domain rule
    UNEXPECTED_TYPE = "UNEXPECTED_TYPE"  # a valid message, but not of the type asked for


class CodecError(Exception):
    """Base of the codec's errors."""


class DecodeError(CodecError):
    """The input is not a valid message. The input's fault; the message holds no input data."""

    def __init__(self, reason: DecodeReason, detail: str, message_type: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.message_type = message_type
        prefix = f"{message_type}: " if message_type else ""
        super().__init__(f"{reason.value}: {prefix}{detail}")


class EncodeError(CodecError):
    """The record does not fit its schema. The caller's fault; names fields, never values."""


@dataclass(frozen=True, slots=True)
class WriterSchema:
    message_type: str
    version: int | None  # None for the current schema
    schema: Schema  # the expanded JSON schema
    parsed: Any  # fastavro's parsed form, with logical types (the dict API)
    plain: Any  # parsed without the uuid/timestamp logical types (the model path)
    named_unions: bool  # carries AttributeValue, whose union needs fastavro's tuple notation
    validate: Callable[[Any], Message]  # model arguments -> the validated current model
    fast: FastCodec | None = None  # generated coders of a current schema (`schemas.fastpath`)


def _writer_schema(
    message_type: str, version: int | None, schema: Schema, fast: FastCodec | None = None
) -> WriterSchema:
    return WriterSchema(
        message_type,
        version,
        schema,
        parse_schema(schema, named_schemas={}),
        parse_schema(plain_schema(schema), named_schemas={}),
        ATTRIBUTE_VALUE in named_types(schema),
        # what model.model_validate(arguments) runs, without its Python-level wrapper
        MESSAGE_MODELS[message_type].__pydantic_validator__.validate_python,
        fast,
    )


class Registry:
    """Known writer schemas by fingerprint: current ones eagerly, released ones on demand."""

    def __init__(self, history_dir: Path = HISTORY_DIR) -> None:
        self.history_dir = history_dir
        schemas = load_schema_set()
        self.mappers = Mappers(schemas)
        self.current: dict[str, WriterSchema] = {}
        self.by_fingerprint: dict[bytes, WriterSchema] = {}
        self.headers: dict[str, bytes] = {}
        for name in schemas.messages:
            expanded = schemas.expanded(name)
            fp = fingerprint(expanded)
            fast = compile_codec(expanded, MARKER + fp, self.mappers)
            writer = _writer_schema(name, None, expanded, fast)
            self.current[name] = writer
            self.by_fingerprint[fp] = writer
            self.headers[name] = MARKER + fp
        self._history_loaded = False

    def lookup(self, fp: bytes) -> WriterSchema | None:
        writer = self.by_fingerprint.get(fp)
        if writer is None and not self._history_loaded:
            self._load_history()
            writer = self.by_fingerprint.get(fp)
        return writer

    def _load_history(self) -> None:
        self._history_loaded = True
        for name, version, schema in iter_history(self.history_dir):
            fp = fingerprint(schema)
            if fp in self.by_fingerprint or name not in self.current:
                continue
            self.by_fingerprint[fp] = _writer_schema(name, version, schema)


REGISTRY = Registry()
_ENCODERS = REGISTRY.mappers.to_datum
_DECODERS = REGISTRY.mappers.from_datum


# ---- reading the header -----------------------------------------------------------------


def _writer_of(data: bytes) -> WriterSchema:
    if type(data) is bytes and data[:2] == MARKER:  # the common case, in one dict look-up
        known = REGISTRY.by_fingerprint.get(data[2:HEADER_LENGTH])
        if known is not None:
            return known
    if len(data) < len(MARKER):
        if MARKER.startswith(bytes(data)):
            raise DecodeError(DecodeReason.TRUNCATED, "input ends inside the marker")
        raise DecodeError(DecodeReason.NOT_SINGLE_OBJECT, "input does not start with C3 01")
    if data[:2] != MARKER:
        raise DecodeError(DecodeReason.NOT_SINGLE_OBJECT, "input does not start with C3 01")
    if len(data) < HEADER_LENGTH:
        raise DecodeError(DecodeReason.TRUNCATED, "input ends inside the fingerprint")
    writer = REGISTRY.lookup(bytes(data[2:HEADER_LENGTH]))
    if writer is None:
        raise DecodeError(
            DecodeReason.UNKNOWN_FINGERPRINT,
            f"no current or released schema has fingerprint {bytes(data[2:10]).hex()}",
        )
    return writer


def message_type(data: bytes) -> str:
    """The message type named by the header's fingerprint, without reading the body."""
    return _writer_of(data).message_type


def header(message_type: str) -> bytes:
    """The 10-byte single-object header of the current schema of `message_type`."""
    return REGISTRY.headers[message_type]


def current_schema(message_type: str) -> Schema:
    """The current expanded JSON schema of `message_type`."""
    return REGISTRY.current[message_type].schema


# ---- dict level -------------------------------------------------------------------------


def _read(data: bytes, writer: WriterSchema, *, plain: bool) -> dict[str, Any]:
    reader = None
    if writer.version is not None:
        current = REGISTRY.current[writer.message_type]
        reader = current.plain if plain else current.parsed
    stream = BytesIO(data)
    stream.seek(HEADER_LENGTH)
    try:
        datum = schemaless_reader(
            stream,
            writer.plain if plain else writer.parsed,
            reader,
            return_named_type=writer.named_unions,
            return_named_type_override=writer.named_unions,
        )
    except EOFError:
        raise DecodeError(
            DecodeReason.TRUNCATED, "input ends inside the body", writer.message_type
        ) from None
    except Exception as exc:  # fastavro's messages may quote input bytes: keep only the kind
        raise DecodeError(
            DecodeReason.BODY_MISMATCH,
            f"body is not a datum of the writer schema ({type(exc).__name__})",
            writer.message_type,
        ) from None
    if stream.tell() != len(data):
        raise DecodeError(
            DecodeReason.BODY_MISMATCH,
            "bytes remain after the body",
            writer.message_type,
        )
    if not isinstance(datum, dict):
        raise DecodeError(DecodeReason.BODY_MISMATCH, "body is not a record", writer.message_type)
    return datum


def decode_dict(data: bytes) -> tuple[str, dict[str, Any]]:
    """(message type, fastavro datum resolved to the current schema). No domain validation.

    Enum values are Avro symbols; AttributeValue values use fastavro's tuple notation
    `(branch name, datum)` for named branches, as `encode_dict` accepts them. An `int` or
    `long` attribute comes back as a plain int, so re-encoding a dict lets fastavro pick the
    narrowest branch: use the models for catalogue-exact branches.
    """
    writer = _writer_of(data)
    return writer.message_type, _read(data, writer, plain=False)


_STRICT_FIELD_ERRORS = re.compile(
    r"record contains more fields than the schema specifies: [A-Za-z0-9_, ]+"
    r"|Field [A-Za-z0-9_]+ is specified in the schema but missing from the record"
)


def _encode_error(message_type: str, datum: Any, parsed: Any, exc: Exception) -> EncodeError:
    """An error naming the offending fields only (fastavro's own messages quote values)."""
    match = _STRICT_FIELD_ERRORS.fullmatch(str(exc))
    if match:
        return EncodeError(f"{message_type}: {match.group(0)}")
    try:
        validate(datum, parsed, raise_errors=True, strict=True)
    except AvroValidationError as invalid:
        fields = sorted({error.field for error in invalid.errors if error.field})
        return EncodeError(f"{message_type}: fields do not match the schema: {', '.join(fields)}")
    except Exception:  # noqa: S110 - diagnosis is best effort; the generic error follows
        pass
    return EncodeError(f"{message_type}: record does not match the schema ({type(exc).__name__})")


def _write(message_type: str, datum: Mapping[str, Any], *, plain: bool) -> bytes:
    writer = REGISTRY.current.get(message_type)
    if writer is None:
        raise EncodeError(f"unknown message type {message_type!r}")
    schema = writer.plain if plain else writer.parsed
    stream = BytesIO()
    stream.write(REGISTRY.headers[message_type])
    try:
        schemaless_writer(stream, schema, datum, strict=True)
    except Exception as exc:
        raise _encode_error(message_type, datum, schema, exc) from None
    return stream.getvalue()


def encode_dict(message_type: str, datum: Mapping[str, Any]) -> bytes:
    """Encode a fastavro datum with the current schema of `message_type`, strictly.

    Values as fastavro takes them: UUID or its string, aware datetime, date, Avro enum symbols,
    tuple notation `(branch, value)` for AttributeValue values.
    """
    return _write(message_type, datum, plain=False)


# ---- model level ------------------------------------------------------------------------


def encode(message: Message) -> bytes:
    """The single-object encoding of a message with its current schema."""
    name = message.MESSAGE_TYPE
    writer = REGISTRY.current.get(name)
    if writer is not None and writer.fast is not None:
        try:
            return writer.fast.encode(message)
        except Exception:  # noqa: S110 - not a plain validated model: the path below decides
            pass
    try:
        datum = _ENCODERS[message.AVRO_NAME](message)
    except (AttributeError, KeyError, TypeError) as exc:  # only a model_construct'ed model
        raise EncodeError(f"{name}: model does not fit its schema ({type(exc).__name__})") from None
    return _write(name, datum, plain=True)


def _to_model(message_type: str, datum: dict[str, Any]) -> Message:
    """Validate a plain current-schema datum into its model."""
    model = MESSAGE_MODELS[message_type]
    try:
        arguments = _DECODERS[model.AVRO_NAME](datum)
    except Exception as exc:  # for example a timestamp beyond year 9999
        raise DecodeError(
            DecodeReason.INVALID_CONTENT,
            f"value out of range for its type ({type(exc).__name__})",
            message_type,
        ) from None
    try:
        return REGISTRY.current[message_type].validate(arguments)
    except ValidationError as exc:
        raise _invalid(message_type, exc) from exc


def _invalid(message_type: str, exc: ValidationError) -> DecodeError:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    )
    return DecodeError(DecodeReason.INVALID_CONTENT, problems, message_type)


def _decode_model(data: bytes, writer: WriterSchema) -> Message:
    fast = writer.fast
    if fast is not None:
        try:
            arguments = fast.decode(data if type(data) is bytes else bytes(data))
        except Exception:  # noqa: S110 - unusual input: fastavro's path below decides
            pass
        else:
            try:
                return writer.validate(arguments)
            except ValidationError as exc:
                raise _invalid(writer.message_type, exc) from exc
    return _to_model(writer.message_type, _read(data, writer, plain=True))


def decode(data: bytes) -> Message:
    """Decode and validate a single-object-encoded message of any known type."""
    return _decode_model(data, _writer_of(data))


def decode_as(data: bytes, model: type[M]) -> M:
    """Decode a message that must be of type `model`; anything else is a DecodeError."""
    writer = _writer_of(data)
    if writer.message_type != model.MESSAGE_TYPE:
        raise DecodeError(
            DecodeReason.UNEXPECTED_TYPE,
            f"expected {model.MESSAGE_TYPE}",
            writer.message_type,
        )
    message = _decode_model(data, writer)
    assert isinstance(message, model)
    return message
