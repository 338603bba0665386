"""How the hub decides (DOMAIN.md §5): a pure function from a request and the hub's state to a
route or a denial, checking steps 2-9 in order and stopping at the first failure.

Step 1 (well-formed, known schema, sender = topic owner) belongs to the shell that decodes the
message; `decide` still refuses a sender or provider that is not an agency as MALFORMED rather
than raising. Nothing here reads a clock, a file or a random source; `now` is a parameter and
a new person id for enrolment is passed in. Denial messages never contain personal data: they
name agencies, rows, purposes and attribute names only.

Nor does deciding do cryptography: the shell decrypts the request's codes before (ingress
already has the person's id, to key the request by person) and seals a route after
(`Keyring.seal_route`: the provider's code and the reply token). `decide` takes what the codes
decrypted to, None for a code that did not decrypt under the requester's key.
"""

from __future__ import annotations

from datetime import datetime

from hub.core.legal_basis import LegalBasisTable
from hub.core.outcomes import Deny, Route
from hub.core.rollout import Rollout
from hub.core.state import EMPTY_PERSON, HubState, budget_available
from schemas.models import AttributeRequest
from schemas.vocabulary import AgencyKind, DenialReason, InvalidAgencyId, agency_kind

R = DenialReason
_new_route = tuple.__new__


def kind_of(state: HubState, agency: str) -> AgencyKind | None:
    """The agency's kind from the registry, else from the form of its id; None if no agency."""
    entry = state.agencies.get(agency)
    if entry is not None:
        return entry.kind
    try:
        return agency_kind(agency)
    except InvalidAgencyId:
        return None


def suspension(state: HubState, *agencies: str) -> Deny | None:
    """AGENCY_SUSPENDED naming the first of `agencies` the oversight body has suspended, if
    any (DOMAIN.md §11): a request is not routed, nor an answer delivered, while an agency of
    the exchange is suspended."""
    for agency in agencies:
        if agency in state.suspended:
            return Deny(R.AGENCY_SUSPENDED, f"{agency} is suspended by the oversight body")
    return None


def _metered(state: HubState, requester: str, now: float, denial: Deny) -> Deny:
    """A malformed or forged request costs budget (`state.METERED_DENIALS`); beyond the
    budget it is throttled like any other, so a flood of forged codes is slowed and visible."""
    if budget_available(state, requester, now) < 1.0:
        return Deny(
            R.RATE_LIMITED,
            f"{requester} has used its request budget; retry later",
            denial.person_id,
        )
    return denial


def decide(
    request: AttributeRequest,
    person_id: bytes | None,
    proxy_id: bytes | None,
    state: HubState,
    table: LegalBasisTable,
    rollout: Rollout,
    now: datetime,
) -> Route | Deny:
    """Route the request to its provider or deny it with the first failing step's reason.

    `person_id` and `proxy_id`: what `request.person_code` and `request.proxy_code` decrypt to
    under the requester's key (None: not a code the hub issued to the requester, or absent).

    The shell answers a request id it decided before from its record, without deciding again;
    after deciding it applies `state.record_decision`.
    """
    requester = request.metadata.sender
    provider = request.provider
    agencies = state.agencies
    # kind_of(), inlined for the registered agencies every routed request names
    entry = agencies.get(requester)
    requester_kind = entry.kind if entry is not None else kind_of(state, requester)
    provider_entry = agencies.get(provider)
    provider_kind = provider_entry.kind if provider_entry is not None else kind_of(state, provider)
    t = now.timestamp()
    if requester_kind is None or provider_kind is None:
        return _metered(
            state, requester, t, Deny(R.MALFORMED, "the requester or the provider is not an agency")
        )

    # 2. The codes decrypt under the requester's key.
    if person_id is None:
        return _metered(
            state,
            requester,
            t,
            Deny(R.UNKNOWN_CODE, "the person code is not one the hub issued to the requester"),
        )
    if request.proxy_code is not None and proxy_id is None:
        return _metered(
            state,
            requester,
            t,
            Deny(
                R.UNKNOWN_CODE,
                "the proxy code is not one the hub issued to the requester",
                person_id=person_id,
            ),
        )

    # 4. A legal-basis row for these parties and purpose covers every requested attribute.
    row = table.rows.get(request.legal_basis_row)
    if (
        row is None
        or row.requester_kind is not requester_kind
        or row.provider_kind is not provider_kind
        or row.purpose != request.purpose
    ):
        return Deny(
            R.NO_LEGAL_BASIS,
            # the cited row and purpose are the requester's words: not echoed, they could hold
            # anything
            f"no row of legal-basis table {table.version} matches the cited row and purpose "
            f"for a {requester_kind.value} asking a {provider_kind.value}",
            person_id,
            proxy_id,
            table_version=table.version,
        )
    attributes = tuple(request.attributes)
    if len(attributes) > 1 and len(frozenset(attributes)) < len(attributes):
        attributes = tuple(dict.fromkeys(attributes))  # each named once, first order kept
    if not row.attributes.issuperset(attributes):
        outside = ", ".join(sorted(set(attributes) - row.attributes))
        return Deny(
            R.NO_LEGAL_BASIS,
            f"legal-basis row {row.id!r} does not cover the attribute(s) {outside}",
        ).at(row, table.version, person_id, proxy_id)

    # 5. The sector is live and both agencies are in the rollout scope.
    if row.sector not in rollout.live_sectors:
        return Deny(
            R.SECTOR_NOT_LIVE,
            f"the {row.sector.value} sector is not live in the current rollout",
        ).at(row, table.version, person_id, proxy_id)
    scope_kinds, scope_ids = rollout.scope_kinds, rollout.scope_ids
    if (requester_kind not in scope_kinds and requester not in scope_ids) or (
        provider_kind not in scope_kinds and provider not in scope_ids
    ):
        return Deny(
            R.OUTSIDE_ROLLOUT,
            f"{requester} or {provider} is not in the current rollout phase",
        ).at(row, table.version, person_id, proxy_id)
    if provider_entry is None:  # the provider is not onboarded: it has no topic to be asked on
        return Deny(R.OUTSIDE_ROLLOUT, f"{provider} is not an onboarded agency").at(
            row, table.version, person_id, proxy_id
        )

    # 6. The trigger event: about this person, known to the requester, of an accepted type,
    #    naming this provider if it names one, within the window.
    person = state.persons.get(person_id, EMPTY_PERSON)
    event_id = request.trigger_event_id.int.to_bytes(16)
    for event in person.events:  # PersonRecord.event(), inlined
        if event.event_id == event_id:
            break
    else:
        event = None
    if event is None or requester not in event.entitled:
        return Deny(
            R.NO_TRIGGER_EVENT,
            "the cited trigger event is not one the requester knows about this person",
        ).at(row, table.version, person_id, proxy_id)
    if (
        event.type not in row.triggers
        or (event.procedure is not None and event.procedure != row.purpose)
        or (
            event.counterpart is not None
            and event.counterpart != provider
            and kind_of(state, event.counterpart) is provider_kind
        )
    ):
        return Deny(
            R.TRIGGER_MISMATCH,
            f"a {event.type.value} event does not trigger row {row.id!r} towards {provider}",
        ).at(row, table.version, person_id, proxy_id)
    if t - event.at > row.window_seconds:
        return Deny(
            R.TRIGGER_EXPIRED,
            f"the trigger event is older than the {row.window_seconds // 86_400}-day window "
            f"of row {row.id!r}",
        ).at(row, table.version, person_id, proxy_id)

    # 7. Sensitive attributes (or a row that says so) need the person's live consent.
    if row.needs_consent(attributes) and not any(
        c.purpose == row.purpose and (c.recipient is None or c.recipient == requester) and c.live(t)
        for c in person.consents
    ):
        return Deny(
            R.CONSENT_REQUIRED,
            f"purpose {row.purpose!r} needs the person's live consent",
        ).at(row, table.version, person_id, proxy_id)

    # 8. A proxy must hold a confirmed, live grant covering this sector or purpose.
    if proxy_id is not None:
        grant = person.proxy(proxy_id)
        if grant is None or not grant.authorises(int(t), row.sector, row.purpose):
            return Deny(
                R.PROXY_NOT_AUTHORISED,
                f"the proxy is not authorised for {row.sector.value} / {row.purpose}",
            ).at(row, table.version, person_id, proxy_id)

    # 9. Neither agency suspended; the requester within its rate budget.
    suspended = state.suspended
    if requester in suspended or provider in suspended:
        denial = suspension(state, requester, provider)
        assert denial is not None
        return denial.at(row, table.version, person_id, proxy_id)
    if budget_available(state, requester, t) < 1.0:
        return Deny(
            R.RATE_LIMITED,
            f"{requester} has used its request budget; retry later",
        ).at(row, table.version, person_id, proxy_id)

    return _new_route(  # a tuple in field order, without the named tuple's __new__: hot path
        Route,
        (
            request.request_id,
            requester,
            provider,
            person_id,
            proxy_id,
            row.purpose,
            row.id,
            row.sector,
            table.version,
            attributes,
            request.trigger_event_id,
            int(t),
        ),
    )
