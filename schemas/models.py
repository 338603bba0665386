"""Typed models (pydantic v2) of every message of the contract.

One source of truth: the `.avsc` files in `schemas/avro/` define the wire; these models are
written by hand and `tests/schemas/test_drift.py` fails as soon as a model and its schema
disagree (field names and order, types, optionality, defaults, enum symbols). Hand-written
rather than generated at import time because generated classes are invisible to mypy: the hub
and the agency SDK construct these messages in typed code, and `AttributeRequest(...)` with a
misspelt field must be a type error, not a runtime surprise. The models add what Avro cannot
say: the individual number's check digit, agency-id forms, non-empty attribute lists,
time-zone-aware timestamps, cross-field rules.

Privacy: every model hides input values in validation errors (`hide_input_in_errors`), and the
custom validators name the rule only, so an invalid number or code never reaches a message, a
log or a dead-letter detail.

Enums: the Avro symbol is always the Python member *name* (for `Sector` and `AgencyKind`, whose
values are lower-case words, the name is the upper-case form); `schemas.mapping` converts.
"""

from __future__ import annotations

from datetime import date
from enum import Enum, StrEnum
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from schemas import individual_number
from schemas.vocabulary import (
    AGENCY_ID_PATTERN,
    AgencyKind,
    DenialReason,
    EventType,
    Sector,
    agency_kind,
)


class AvroType:
    """Marks an annotated Python type with the Avro type it travels as (read by the drift test)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"AvroType({self.name!r})"


def _individual_number(value: str) -> str:
    # InvalidIndividualNumber is a ValueError whose message names the rule, never the number.
    return individual_number.validate(value)


PRINCIPAL_PATTERN = r"^(?:hub|op-[a-z0-9]+(?:-[a-z0-9]+)*)$"
_PRINCIPAL_OR_AGENCY = f"(?:{AGENCY_ID_PATTERN[1:-1]}|{PRINCIPAL_PATTERN[1:-1]})"
MUNICIPALITY_PATTERN = r"^mun-[0-9]{5}$"

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), AvroType("int")]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1), AvroType("long")]
Timestamp = Annotated[AwareDatetime, AvroType("timestamp-micros")]
"""A time-zone-aware instant; travels as UTC microseconds and decodes as UTC."""
AgencyId = Annotated[str, StringConstraints(pattern=AGENCY_ID_PATTERN), AvroType("agency-id")]
"""mun-<5 digits>, hi-<code>, med-<code>, nta, jps, mhlw-ei, portal or ppc (DOMAIN.md §2)."""
MunicipalityId = Annotated[
    str, StringConstraints(pattern=MUNICIPALITY_PATTERN), AvroType("agency-id")
]
Principal = Annotated[
    str, StringConstraints(pattern=f"^{_PRINCIPAL_OR_AGENCY}$"), AvroType("principal-id")
]
"""Who published a message: an agency id, the hub (`hub`) or an operator (`op-<name>`)."""
IndividualNumber = Annotated[str, AfterValidator(_individual_number), AvroType("individual-number")]
"""個人番号: 12 digits with the official check digit."""
NoClearNumber = Annotated[
    str,
    AfterValidator(lambda value: value and _individual_number(value)),
    AvroType("individual-number"),
]
"""Where version 1 carried a number in clear: empty now, a valid number from old senders."""
LinkCode = Annotated[bytes, Field(min_length=1), AvroType("bytes")]
"""符号: a person's code as one agency knows it; opaque bytes."""
Token = Annotated[bytes, AvroType("bytes")]
Name = Annotated[str, StringConstraints(min_length=1), AvroType("string")]
MAX_ATTRIBUTES = 32  # a legal-basis row names a few; the cap bounds what a record must keep
AttributeNames = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=MAX_ATTRIBUTES),
]
"""Attribute names a request or query carries: at most 32, each at most 64 characters, so the
requester-chosen text a provision record keeps is bounded."""
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), AvroType("string")]
EventTypeName = Annotated[EventType, AvroType("string")]


class DependencyRelationship(StrEnum):
    PARENT_OF_MINOR = "PARENT_OF_MINOR"  # 親権者
    GUARDIAN = "GUARDIAN"  # 成年後見人
    DEPENDANT = "DEPENDANT"  # 扶養親族


class Change(StrEnum):
    ADDED = "ADDED"
    REMOVED = "REMOVED"


class ProxyKind(StrEnum):
    LEGAL = "LEGAL"  # 法定代理
    VOLUNTARY = "VOLUNTARY"  # 任意代理


class ProxyRegistrant(StrEnum):
    PRINCIPAL = "PRINCIPAL"
    PROXY = "PROXY"
    MUNICIPAL_COUNTER_CHECK = "MUNICIPAL_COUNTER_CHECK"


class Outcome(StrEnum):
    PROVIDED = "PROVIDED"
    DENIED = "DENIED"


class RolloutOperation(StrEnum):
    LOAD_PLAN = "LOAD_PLAN"
    ADVANCE = "ADVANCE"
    ROLL_BACK = "ROLL_BACK"
    PAUSE_SECTOR = "PAUSE_SECTOR"
    RESUME_SECTOR = "RESUME_SECTOR"


class Relationship(StrEnum):
    """続柄, relationship to the head of household."""

    HEAD = "HEAD"
    SPOUSE = "SPOUSE"
    CHILD = "CHILD"
    PARENT = "PARENT"
    OTHER = "OTHER"


class PensionInsuredCategory(StrEnum):
    CATEGORY_1 = "CATEGORY_1"
    CATEGORY_2 = "CATEGORY_2"
    CATEGORY_3 = "CATEGORY_3"
    NOT_INSURED = "NOT_INSURED"


class HealthInsuranceStatus(StrEnum):
    NATIONAL_HEALTH_INSURANCE = "NATIONAL_HEALTH_INSURANCE"
    EMPLOYEE_INSURANCE = "EMPLOYEE_INSURANCE"
    LATE_ELDERLY = "LATE_ELDERLY"
    NONE = "NONE"


class LongTermCareLevel(StrEnum):
    NONE = "NONE"
    SUPPORT_1 = "SUPPORT_1"
    SUPPORT_2 = "SUPPORT_2"
    CARE_1 = "CARE_1"
    CARE_2 = "CARE_2"
    CARE_3 = "CARE_3"
    CARE_4 = "CARE_4"
    CARE_5 = "CARE_5"


AVRO_ENUMS: dict[str, type[Enum]] = {
    "jp.renkei.Sector": Sector,
    "jp.renkei.DenialReason": DenialReason,
    "jp.renkei.AgencyKind": AgencyKind,
    "jp.renkei.DependencyRelationship": DependencyRelationship,
    "jp.renkei.Change": Change,
    "jp.renkei.ProxyKind": ProxyKind,
    "jp.renkei.ProxyRegistrant": ProxyRegistrant,
    "jp.renkei.Outcome": Outcome,
    "jp.renkei.RolloutOperation": RolloutOperation,
    "jp.renkei.attributes.Relationship": Relationship,
    "jp.renkei.attributes.PensionInsuredCategory": PensionInsuredCategory,
    "jp.renkei.attributes.HealthInsuranceStatus": HealthInsuranceStatus,
    "jp.renkei.attributes.LongTermCareLevel": LongTermCareLevel,
}
"""Avro enum full name -> Python enum; symbols are member names."""


class Record(BaseModel):
    """An Avro record. Immutable, no extra fields, input values never shown in errors."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        allow_inf_nan=False,
    )
    AVRO_NAME: ClassVar[str]


class Metadata(Record):
    """Envelope every message carries first."""

    AVRO_NAME: ClassVar[str] = "jp.renkei.Metadata"
    message_id: UUID
    correlation_id: UUID | None = None
    occurred_at: Timestamp
    sender: Principal
    trace_parent: Annotated[str, AvroType("string")] | None = None


class Message(Record):
    """A top-level message: a record whose first field is `metadata`."""

    MESSAGE_TYPE: ClassVar[str]
    metadata: Metadata

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.MESSAGE_TYPE = cls.__name__
        cls.AVRO_NAME = f"jp.renkei.{cls.__name__}"


class HouseholdMember(Record):
    """世帯員: relationship and birth year only."""

    AVRO_NAME: ClassVar[str] = "jp.renkei.attributes.HouseholdMember"
    relationship: Relationship
    birth_year: Int32


AttributeData = (
    bool
    | Int64
    | str
    | list[str]
    | list[HouseholdMember]
    | PensionInsuredCategory
    | HealthInsuranceStatus
    | LongTermCareLevel
)
"""The Python side of the AttributeValue union (see `schemas.mapping.ATTRIBUTE_BRANCHES`)."""


class AttributeValue(Record):
    """One attribute value, typed per the attribute catalogue."""

    AVRO_NAME: ClassVar[str] = "jp.renkei.AttributeValue"
    name: Name
    value: AttributeData | None


# ---- events -----------------------------------------------------------------------------


class Relocation(Message):
    """転居・転入: the destination municipality reports a move in."""

    person_code: LinkCode
    from_municipality: MunicipalityId
    to_municipality: MunicipalityId
    moved_on: date


class IncomeDetermined(Message):
    """所得確定: the taxable income for a fiscal year is final."""

    person_code: LinkCode
    fiscal_year: Int32


class ClinicalUpdate(Message):
    """診療情報更新: a new clinical document (sensitive sector)."""

    person_code: LinkCode
    document_category: Name
    documented_on: date
    referred_to: AgencyId | None = None


class ApplicationReceived(Message):
    """申請受付: the person applied for a procedure."""

    person_code: LinkCode
    procedure: Name
    received_on: date


class DependencyChanged(Message):
    """扶養異動: a dependency, parenthood or guardianship relation started or ended."""

    person_code: LinkCode
    related_person_code: LinkCode
    relationship: DependencyRelationship
    change: Change
    effective_on: date
    until: date | None = None

    @model_validator(mode="after")
    def _until_not_before_start(self) -> Self:
        if self.until is not None and self.until < self.effective_on:
            raise ValueError("until must not be before effective_on")
        return self


class ConsentGiven(Message):
    """同意: consent to a purpose, needed for sensitive attributes."""

    person_code: LinkCode
    purpose: Name
    recipient: AgencyId | None = None
    expires_at: Timestamp | None = None
    consent_token: Annotated[str, StringConstraints(max_length=2048), AvroType("string")] | None = (
        None
    )


class ConsentWithdrawn(Message):
    """同意撤回."""

    person_code: LinkCode
    purpose: Name
    recipient: AgencyId | None = None


class ProxyRegistered(Message):
    """代理登録: a proxy may act for the principal within a scope."""

    principal_code: LinkCode
    proxy_code: LinkCode
    kind: ProxyKind
    scope: Annotated[list[str], Field(min_length=1)]
    expires_at: Timestamp | None = None
    registered_by: ProxyRegistrant


class ProxyRevoked(Message):
    """代理解除."""

    principal_code: LinkCode
    proxy_code: LinkCode


class SealedNumber(Record):
    """An individual number sealed to the hub's public key (see schemas.sealed_number)."""

    AVRO_NAME: ClassVar[str] = "jp.renkei.SealedNumber"
    key_id: Annotated[int, Field(ge=1, le=255), AvroType("int")]
    ephemeral_key: Annotated[bytes, Field(max_length=64), AvroType("bytes")]
    nonce: Annotated[bytes, Field(max_length=64), AvroType("bytes")]
    ciphertext: Annotated[bytes, Field(max_length=256), AvroType("bytes")]


class NumberChanged(Message):
    """番号変更: the person has a new individual number; codes stay the same. The number
    travels sealed (`sealed_new_number`); `new_number` is what version 1 sent in clear."""

    person_code: LinkCode
    new_number: IndividualNumber | None = None
    sealed_new_number: SealedNumber | None = None


# ---- linkage ----------------------------------------------------------------------------


class Enrolment(Message):
    """An agency presents a number once and receives its link code. The number travels
    sealed (`sealed_number`); `individual_number` is where version 1 sent it in clear."""

    request_id: UUID
    individual_number: NoClearNumber = ""
    sealed_number: SealedNumber | None = None


class EnrolmentConfirmed(Message):
    request_id: UUID
    person_code: LinkCode


class AttributeRequest(Message):
    """情報照会: the requester (metadata.sender) asks for attributes held by the provider."""

    request_id: UUID
    person_code: LinkCode
    provider: AgencyId
    purpose: Name
    legal_basis_row: Name
    attributes: AttributeNames
    trigger_event_id: UUID
    proxy_code: LinkCode | None = None


class AttributeQuery(Message):
    """What the hub forwards to the provider: only authorised attribute names."""

    person_code: LinkCode
    purpose: Name
    legal_basis_row: Name
    attributes: AttributeNames
    reply_token: Token


class AttributeAnswer(Message):
    reply_token: Token
    values: list[AttributeValue]
    not_held: list[str] = Field(default_factory=list)


class AttributeResponse(Message):
    request_id: UUID
    person_code: LinkCode
    provider: AgencyId
    values: list[AttributeValue]
    not_held: list[str] = Field(default_factory=list)


class RequestDenied(Message):
    request_id: UUID
    reason: DenialReason
    message: str


class ProviderTimeout(Message):
    """PROVIDER_TIMEOUT: the provider did not answer before the reply deadline."""

    request_id: UUID
    provider: AgencyId
    deadline: Timestamp
    message: str


class ProvisionRecord(Message):
    """情報提供等記録: one provision or denial, chained for tamper evidence."""

    record_id: UUID
    request_id: UUID
    requester: AgencyId
    provider: AgencyId | None = None
    purpose: str | None = None
    sector: Sector | None = None
    legal_basis_row: str | None = None
    table_version: str | None = None
    attributes: list[str]
    trigger_event_id: UUID | None = None
    subject_code: LinkCode
    proxy_code: LinkCode | None = None
    outcome: Outcome
    reason: DenialReason | None = None
    over_provided: list[str] = Field(default_factory=list)
    provider_timeout: bool = False
    chain_partition: Annotated[int, Field(ge=0, le=2**31 - 1), AvroType("int")]
    chain_sequence: Annotated[int, Field(ge=0, le=2**63 - 1), AvroType("long")]
    previous_hash: Token
    record_hash: Token
    signing_key_id: Annotated[int, Field(ge=0, le=255), AvroType("int")] = 0
    signature: Token = b""

    @property
    def reason_code(self) -> str | None:
        """Why nothing was provided: the denial reason, or PROVIDER_TIMEOUT when the provider
        did not answer in time; None when provided."""
        if self.provider_timeout:
            return "PROVIDER_TIMEOUT"
        return None if self.reason is None else self.reason.value

    @model_validator(mode="after")
    def _reason_iff_denied(self) -> Self:
        if self.provider_timeout:
            if self.outcome is not Outcome.DENIED or self.reason is not None:
                raise ValueError("a provider timeout is not provided and carries no reason")
        elif (self.outcome is Outcome.DENIED) != (self.reason is not None):
            raise ValueError("a denial carries a reason and a provision does not")
        return self


class Notice(Message):
    """お知らせ."""

    notice_id: UUID
    person_code: LinkCode
    category: Name
    title: str
    body: str
    delivery_receipt: Annotated[bytes, Field(max_length=1024), AvroType("bytes")] | None = None


class NoticeAcknowledged(Message):
    """到達確認."""

    notice_id: UUID
    delivered_at: Timestamp
    notice_sender: AgencyId | None = None
    delivery_receipt: Annotated[bytes, Field(max_length=1024), AvroType("bytes")] | None = None


class DeadLetter(Message):
    """An input the hub could not process, for operators."""

    reason: Name
    detail: str
    source_topic: Name
    source_partition: Annotated[int, Field(ge=0, le=2**31 - 1), AvroType("int")]
    source_offset: Annotated[int, Field(ge=0, le=2**63 - 1), AvroType("long")]
    original: Token


class OversightSignal(Message):
    """An anomaly rule's threshold crossed by one agency in one window; never names a person."""

    signal_id: UUID
    rule: Name
    agency: AgencyId
    window_start: Timestamp
    window_seconds: Int32
    count: Int64
    threshold: Int64
    summary: str


# ---- control ----------------------------------------------------------------------------


class RolloutChange(Message):
    operation: RolloutOperation
    sector: Sector | None = None
    plan_json: str | None = None

    @model_validator(mode="after")
    def _arguments_match_operation(self) -> Self:
        needs_sector = self.operation in (
            RolloutOperation.PAUSE_SECTOR,
            RolloutOperation.RESUME_SECTOR,
        )
        if needs_sector != (self.sector is not None):
            raise ValueError("sector is required for PAUSE_SECTOR/RESUME_SECTOR and only then")
        if (self.operation is RolloutOperation.LOAD_PLAN) != (self.plan_json is not None):
            raise ValueError("plan_json is required for LOAD_PLAN and only then")
        return self


class LegalBasisTablePublished(Message):
    version: Name
    sha256: Sha256Hex
    table_json: str


class TrustTablePublished(Message):
    version: Name
    sha256: Sha256Hex
    table_json: str


class AgencySuspension(Message):
    agency: AgencyId
    suspended: bool
    reason: str


class RateBudgetSet(Message):
    agency: AgencyId | None = None
    burst: Int64  # at least 1 and per_second at least 0: the hub's rule (hub.control)
    per_second: Int64
    reason: str


class AgencyRegistered(Message):
    agency: AgencyId
    kind: AgencyKind
    key_id: Name
    subscriptions: list[EventTypeName]

    @model_validator(mode="after")
    def _kind_matches_id(self) -> Self:
        if agency_kind(self.agency) is not self.kind:
            raise ValueError("kind does not match the form of the agency id")
        return self


class AgencyRetired(Message):
    agency: AgencyId
    reason: str


class ControlAcknowledged(Message):
    """One hub replica's answer to the control record at `control_offset`."""

    replica: Name
    control_offset: Annotated[int, Field(ge=0, le=2**63 - 1), AvroType("long")]
    message_type: str | None = None
    applied: bool
    reason: str | None = None
    detail: str | None = None


EVENT_MODELS: tuple[type[Message], ...] = (
    Relocation,
    IncomeDetermined,
    ClinicalUpdate,
    ApplicationReceived,
    DependencyChanged,
    ConsentGiven,
    ConsentWithdrawn,
    ProxyRegistered,
    ProxyRevoked,
    NumberChanged,
)
_MESSAGE_CLASSES: tuple[type[Message], ...] = (
    *EVENT_MODELS,
    Enrolment,
    EnrolmentConfirmed,
    AttributeRequest,
    AttributeQuery,
    AttributeAnswer,
    AttributeResponse,
    RequestDenied,
    ProviderTimeout,
    ProvisionRecord,
    Notice,
    NoticeAcknowledged,
    DeadLetter,
    OversightSignal,
    RolloutChange,
    LegalBasisTablePublished,
    TrustTablePublished,
    AgencySuspension,
    AgencyRegistered,
    AgencyRetired,
    ControlAcknowledged,
    RateBudgetSet,
)
MESSAGE_MODELS: dict[str, type[Message]] = {model.MESSAGE_TYPE: model for model in _MESSAGE_CLASSES}
"""Message type (the record's short name) -> model."""
RECORD_MODELS: dict[str, type[Record]] = {
    **{model.AVRO_NAME: model for model in MESSAGE_MODELS.values()},
    Metadata.AVRO_NAME: Metadata,
    AttributeValue.AVRO_NAME: AttributeValue,
    HouseholdMember.AVRO_NAME: HouseholdMember,
    SealedNumber.AVRO_NAME: SealedNumber,
}
"""Avro record full name -> model, for every record that has one."""
