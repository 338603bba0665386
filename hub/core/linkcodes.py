"""Link codes (符号): how each agency knows a person, unlinkable across agencies.

code = key id (1 byte) || AES-SIV(person_id, associated data = agency id) under the agency's
own key. AES-SIV is deterministic (the same person always gets the same code from the same
agency, so agencies can store it) and authenticated (a forged, truncated, mutated or other
agency's code fails to decrypt). Translating requester code -> person -> provider code needs
only the keys, no per-person table. The agency's key is HKDF(master of the generation, agency
id); the leading key id lets a new generation become current while old codes stay valid.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.core.keys import LINK_CODE_KEY_BYTES, KeyGenerations

PERSON_ID_BYTES = 16
CODE_BYTES = 1 + 16 + PERSON_ID_BYTES  # key id, SIV tag, encrypted person id
_INFO = b"renkei link code v1\x00"


class LinkCodes:
    """Encode and decode link codes; keeps one cipher object per (agency, key id) it has used.

    The cache is a memo of a pure function of the key set, not state: two instances built from
    the same key set give identical codes.
    """

    __slots__ = ("_ciphers", "_generations")

    def __init__(self, generations: KeyGenerations) -> None:
        self._generations = generations
        self._ciphers: dict[tuple[str, int], tuple[AESSIV, list[bytes]]] = {}

    def _cipher(self, agency: str, key_id: int) -> tuple[AESSIV, list[bytes]] | None:
        """The agency's cipher for the key id, with the associated data (the agency id)."""
        cipher = self._ciphers.get((agency, key_id))
        if cipher is None:
            master = self._generations.keys.get(key_id)
            if master is None:
                return None
            derived = HKDF(
                algorithm=SHA256(),
                length=LINK_CODE_KEY_BYTES,
                salt=None,
                info=_INFO + agency.encode(),
            ).derive(master)
            cipher = self._ciphers[(agency, key_id)] = (AESSIV(derived), [agency.encode()])
        return cipher

    def encode(self, agency: str, person_id: bytes, key_id: int | None = None) -> bytes:
        """The agency's code for the person, under `key_id` (default: the current generation)."""
        if len(person_id) != PERSON_ID_BYTES:
            raise ValueError("a person id is 16 bytes")
        kid = self._generations.current if key_id is None else key_id
        cipher = self._ciphers.get((agency, kid)) or self._cipher(agency, kid)
        if cipher is None:
            raise ValueError(f"key id {kid} is not in the key set")
        siv, associated = cipher
        return bytes((kid,)) + siv.encrypt(person_id, associated)

    def decode(self, agency: str, code: bytes) -> bytes | None:
        """The person id behind the agency's code, or None when the hub did not make this code
        for this agency (the caller turns None into UNKNOWN_CODE)."""
        if len(code) != CODE_BYTES:
            return None
        cipher = self._ciphers.get((agency, code[0])) or self._cipher(agency, code[0])
        if cipher is None:
            return None
        siv, associated = cipher
        try:
            return siv.decrypt(code[1:], associated)
        except InvalidTag:
            return None

    def translate(self, from_agency: str, code: bytes, to_agency: str) -> bytes | None:
        """The other agency's code for the same person, or None for an unknown code."""
        person_id = self.decode(from_agency, code)
        return None if person_id is None else self.encode(to_agency, person_id)
