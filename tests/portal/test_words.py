"""The portal's words: every reason a person can see on a record is explained in both languages."""

import pytest

from portal import i18n
from schemas.vocabulary import DenialReason

CODES = [*(r.value for r in DenialReason), "PROVIDER_TIMEOUT"]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("code", CODES)
def test_every_reason_on_a_record_is_explained_to_the_person(language: str, code: str) -> None:
    text = i18n.reason_text(language, code)
    assert text != code
    assert code not in text  # words for a person, not the code again
    if language == "en":
        assert text.isascii()
    else:
        assert not text.isascii()


def test_a_reason_without_words_is_shown_as_its_code() -> None:
    assert i18n.reason_text("en", "SOMETHING_NEW") == "SOMETHING_NEW"
