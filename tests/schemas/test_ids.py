"""`new_id` makes the UUIDs `uuid.uuid4()` makes: version 4, RFC 4122 variant, random, and
ordinary `uuid.UUID` values in every way the code and the wire use them."""

import pickle
import uuid

from schemas.ids import new_id


def test_a_new_id_is_a_random_version_4_uuid_like_any_other() -> None:
    ids = [new_id() for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    for u in ids[:200]:
        assert type(u) is uuid.UUID
        assert u.version == 4
        assert u.variant == uuid.RFC_4122
        parsed = uuid.UUID(str(u))  # the standard parser agrees with what it prints
        assert parsed == u
        assert hash(parsed) == hash(u)
        assert uuid.UUID(bytes=u.bytes) == u
        assert pickle.loads(pickle.dumps(u)) == u
        assert u.is_safe is uuid.SafeUUID.unknown


def test_every_random_bit_varies() -> None:
    # 122 random bits: across 2,000 ids each of them is seen both set and clear
    ids = [new_id().int for _ in range(2_000)]
    ones = zeros = 0
    for value in ids:
        ones |= value
        zeros |= ~value
    fixed = (0xF000 << 64) | (0xC000 << 48)
    mask = ((1 << 128) - 1) & ~fixed
    assert ones & mask == mask
    assert zeros & mask == mask
