"""The hub's decision core (issue 4): pure functions of (message, state, table, rollout, keys,
time). No Kafka, no clock, no randomness of its own, no global mutable state, no logging.

The Kafka shell calls what is re-exported here; everything else is internal.
"""

from hub.core.answers import CheckedAnswer, check_answer, record_answer, withheld
from hub.core.decision import decide, kind_of
from hub.core.events import EventPlan, plan_event
from hub.core.fanout import Delivery
from hub.core.keyring import Keyring
from hub.core.keys import KeySet, KeySetError, load_key_set, parse_key_set
from hub.core.legal_basis import (
    LegalBasisTable,
    LegalBasisTableError,
    default_table,
    parse_published_table,
)
from hub.core.numbers import Enrolled, NumberClaimed, claim_number, decide_enrolment
from hub.core.outcomes import Decision, Deny, Route
from hub.core.provision import Provision
from hub.core.rollout import Rollout, RolloutRefused, apply_rollout_change, initial_rollout
from hub.core.state import (
    AddHolder,
    Change,
    ContinueNumberChange,
    Decided,
    Forward,
    HubState,
    PersonRecord,
    RevokeNumber,
    apply,
    apply_all,
    prune,
    record_decision,
    record_reply,
    register_agency,
    set_suspension,
)
from hub.core.timeouts import index_waiting, timed_out
from hub.core.tokens import ReplyTicket, TokenRefused

__all__ = [
    "AddHolder",
    "Change",
    "CheckedAnswer",
    "ContinueNumberChange",
    "Decided",
    "Decision",
    "Delivery",
    "Deny",
    "Enrolled",
    "EventPlan",
    "Forward",
    "HubState",
    "KeySet",
    "KeySetError",
    "Keyring",
    "LegalBasisTable",
    "LegalBasisTableError",
    "NumberClaimed",
    "PersonRecord",
    "Provision",
    "ReplyTicket",
    "RevokeNumber",
    "Rollout",
    "RolloutRefused",
    "Route",
    "TokenRefused",
    "apply",
    "apply_all",
    "apply_rollout_change",
    "check_answer",
    "claim_number",
    "decide",
    "decide_enrolment",
    "default_table",
    "index_waiting",
    "initial_rollout",
    "kind_of",
    "load_key_set",
    "parse_key_set",
    "parse_published_table",
    "plan_event",
    "prune",
    "record_answer",
    "record_decision",
    "record_reply",
    "register_agency",
    "set_suspension",
    "timed_out",
    "withheld",
]
