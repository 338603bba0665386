"""Renkei's wire contract: Avro schemas, typed models and the single-object codec.

The public surface is re-exported here lazily, so `import schemas` (and `schemas.vocabulary`)
stays cheap; the schemas are parsed once, on first use of the codec.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.codec import (
        CodecError,
        DecodeError,
        DecodeReason,
        EncodeError,
        decode,
        decode_as,
        decode_dict,
        encode,
        encode_dict,
        message_type,
    )
    from schemas.individual_number import InvalidIndividualNumber
    from schemas.models import (
        MESSAGE_MODELS,
        AgencyRegistered,
        AgencyRetired,
        AgencySuspension,
        ApplicationReceived,
        AttributeAnswer,
        AttributeQuery,
        AttributeRequest,
        AttributeResponse,
        AttributeValue,
        ClinicalUpdate,
        ConsentGiven,
        ConsentWithdrawn,
        ControlAcknowledged,
        DeadLetter,
        DependencyChanged,
        Enrolment,
        EnrolmentConfirmed,
        HouseholdMember,
        IncomeDetermined,
        LegalBasisTablePublished,
        Message,
        Metadata,
        Notice,
        NoticeAcknowledged,
        NumberChanged,
        OversightSignal,
        ProviderTimeout,
        ProvisionRecord,
        ProxyRegistered,
        ProxyRevoked,
        Relocation,
        RequestDenied,
        RolloutChange,
        TrustTablePublished,
    )

__all__ = [
    "MESSAGE_MODELS",
    "AgencyRegistered",
    "AgencyRetired",
    "AgencySuspension",
    "ApplicationReceived",
    "AttributeAnswer",
    "AttributeQuery",
    "AttributeRequest",
    "AttributeResponse",
    "AttributeValue",
    "ClinicalUpdate",
    "CodecError",
    "ConsentGiven",
    "ConsentWithdrawn",
    "ControlAcknowledged",
    "DeadLetter",
    "DecodeError",
    "DecodeReason",
    "DependencyChanged",
    "EncodeError",
    "Enrolment",
    "EnrolmentConfirmed",
    "HouseholdMember",
    "IncomeDetermined",
    "InvalidIndividualNumber",
    "LegalBasisTablePublished",
    "Message",
    "Metadata",
    "Notice",
    "NoticeAcknowledged",
    "NumberChanged",
    "OversightSignal",
    "ProviderTimeout",
    "ProvisionRecord",
    "ProxyRegistered",
    "ProxyRevoked",
    "Relocation",
    "RequestDenied",
    "RolloutChange",
    "TrustTablePublished",
    "decode",
    "decode_as",
    "decode_dict",
    "encode",
    "encode_dict",
    "message_type",
]
_CODEC = frozenset(
    {
        "CodecError",
        "DecodeError",
        "DecodeReason",
        "EncodeError",
        "decode",
        "decode_as",
        "decode_dict",
        "encode",
        "encode_dict",
        "message_type",
    }
)


def _module_of(name: str) -> str:
    if name in _CODEC:
        return "schemas.codec"
    if name == "InvalidIndividualNumber":
        return "schemas.individual_number"
    return "schemas.models"


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    value = getattr(import_module(_module_of(name)), name)
    globals()[name] = value
    return value
