"""Redaction: what leaves AWS must not carry card, SSN, routing or account numbers, and must keep
the times, dates, amounts and short numbers a summary needs."""

from __future__ import annotations

import pytest
from pydantic import Field

from shared.errors import ConfigError
from shared.redaction import TOKEN, RedactionSettings, Redactor, parse_patterns, token
from shared.redaction_rules import aba_valid, luhn_valid
from shared.settings import EnvSettings


class Settings(EnvSettings):
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)


VISA_TEST = "4111111111111111"  # Luhn-valid test card numbers published by card networks
AMEX_TEST = "378282246310005"


@pytest.mark.parametrize("number", [VISA_TEST, AMEX_TEST, "5555555555554444", "6011111111111117"])
def test_luhn_accepts_valid_card_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567890123456"])
def test_luhn_rejects_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


def test_aba_checksum() -> None:
    assert aba_valid("021000021")  # JPMorgan Chase's published routing number
    assert aba_valid("011000015")
    assert not aba_valid("123456789")
    assert not aba_valid("000000000")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4111 1111 1111 1111.", "my card is [REDACTED CARD]."),
        ("it's 4111-1111-1111-1111 expiring soon", "it's [REDACTED CARD] expiring soon"),
        ("amex 378282246310005", "amex [REDACTED CARD]"),
        ("social is 123-45-6789", "social is [REDACTED SSN]"),
        ("social is 123 45 6789 ok", "social is [REDACTED SSN] ok"),
        ("ssn 123456789", "ssn [REDACTED SSN]"),
        (
            "routing 021000021 and account 12345678901",
            "routing [REDACTED ROUTING] and account [REDACTED ACCOUNT]",
        ),
        ("account number 9876 5432 1098", "account number [REDACTED ACCOUNT]"),
        # a misheard digit still never leaks (here its last 13 digits pass Luhn: a card all the same)
        ("card 4111111111111112", "card [REDACTED CARD]"),
        ("card 4111111111111113", "card [REDACTED ACCOUNT]"),
    ],
)
def test_sensitive_numbers_are_replaced(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "see you at 10:30 or 14:45:10",
        "on 2024-05-01 or 05/01/2024 or 1/5/2024",
        "it costs $1,250.00 or 1,234,567 dollars",
        "pi is 3.14159265",
        "order 1234567 and zip 94105 and extension 42",
        "call me at 415 555 1234 or 1-800-555-0100",
        "or +44 20 7946 0958 in London",
        "room 12, floor 3, 2 people",
    ],
)
def test_times_dates_amounts_phones_and_short_numbers_are_kept(text: str) -> None:
    redactor = Redactor()
    assert redactor.redact(text) == text
    assert not redactor.counts


def test_spoken_digits_are_redacted() -> None:
    text = "it is four one one one one one one one one one one one one one one one thanks"
    assert Redactor().redact(text) == "it is [REDACTED CARD] thanks"


@pytest.mark.parametrize(
    "spoken",
    [
        # 4111 1111 1111 1111, the way people read it out
        "four double one, double one double one, double one double one, double one double one one",
        "four one triple one, one one one one, triple one one, one one one",
        "four-double-one double-one double-one double-one double-one double-one double-one one",
    ],
)
def test_spoken_digits_with_double_and_triple_are_redacted(spoken: str) -> None:
    redactor = Redactor()
    assert redactor.redact(f"sure it's {spoken} thanks") == "sure it's [REDACTED CARD] thanks"
    assert redactor.counts == {"CARD": 1}


def test_oh_and_double_spell_a_uk_account_number() -> None:
    # 0 3 1 1 5 5 0 9 (8 digits): an account number, with "oh" for zero
    assert (
        Redactor().redact("account oh three double one double five oh nine") == "account [REDACTED ACCOUNT]"
    )


def test_double_without_a_digit_after_it_is_no_digit() -> None:
    text = "double trouble, room double one, four five, a double espresso"
    assert Redactor().redact(text) == text


def test_a_number_read_out_in_pieces_with_doubles_is_redacted() -> None:
    redactor = Redactor()
    texts = ["four double one", "double one double one", "double one double one", "double one double one one"]
    assert redactor.redact_lines(["caller"] * 4, texts) == ["[REDACTED CARD]"] * 4
    assert redactor.counts == {"CARD": 1}


def test_a_few_spoken_digits_are_kept() -> None:
    text = "I have two kids and one dog, and three cats"
    assert Redactor().redact(text) == text


def test_number_read_out_over_several_segments_is_redacted() -> None:
    redactor = Redactor()
    speakers = ["caller", "caller", "caller", "caller", "callee"]
    texts = ["4111", "1111", "1111 1111", "that's it", "thanks"]
    out = redactor.redact_lines(speakers, texts)
    assert out[:3] == ["[REDACTED CARD]"] * 3
    assert out[3:] == ["that's it", "thanks"]
    assert redactor.counts == {"CARD": 1}


def test_short_answers_of_one_speaker_are_not_joined_into_a_number() -> None:
    redactor = Redactor()
    assert redactor.redact_lines(["caller", "caller"], ["2", "3"]) == ["2", "3"]
    assert not redactor.counts


def test_counts_per_kind() -> None:
    redactor = Redactor()
    redactor.redact(f"{VISA_TEST} and 123-45-6789 and {AMEX_TEST}")
    assert redactor.counts == {"CARD": 2, "SSN": 1}


@pytest.mark.parametrize("text", ["2024 05 01", "415 555 1234", "20240501", "4155551234"])
def test_dates_and_phone_numbers_are_kept_only_when_grouped_as_such(text: str) -> None:
    redactor = Redactor()
    out = redactor.redact(text)
    assert (out == text) is (" " in text)  # ungrouped 8+ digits: an account number, privacy first


# ---- configured patterns and settings -----------------------------------------------------


def test_configured_patterns_are_replaced_first_and_counted_by_their_kind() -> None:
    redactor = Redactor(patterns=parse_patterns({"member": r"\bM-\d{6}\b", "pin": r"(?i)\bpin \d{4}\b"}))
    text = redactor.redact("member M-123456, PIN 1234, card 4111 1111 1111 1111")
    assert text == "member [REDACTED MEMBER], [REDACTED PIN], card [REDACTED CARD]"
    assert redactor.counts == {"MEMBER": 1, "PIN": 1, "CARD": 1}


def test_a_token_put_in_is_never_redacted_again() -> None:
    # a pattern that would match the token's own letters, and one that matches the digits of a card
    redactor = Redactor(patterns=parse_patterns({"caps": r"\b[A-Z]{8}\b", "long": r"\d{16}"}))
    assert redactor.redact("4111111111111111 then REDACTED") == "[REDACTED LONG] then [REDACTED CAPS]"
    assert redactor.counts == {"LONG": 1, "CAPS": 1}


def test_international_numbers_stay_when_patterns_are_configured() -> None:
    redactor = Redactor(patterns=parse_patterns({"ref": r"REF\d+"}))
    assert (
        redactor.redact("call +44 20 7946 0958 about REF12") == "call +44 20 7946 0958 about [REDACTED REF]"
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"bad": "("}', "pattern 'bad' is not a valid regular expression"),
        ('{"empty": "a*"}', "pattern 'empty' matches the empty string"),
        ('{"x y": "a"}', "pattern name 'x y' must be a letter"),
        ('{"a": "x", "A": "y"}', "pattern name 'A' is given twice"),
        ('{"a": 3}', "pattern 'a' must be a non-empty string"),
        ('["a"]', "must be a JSON object"),
        ("{not json", "not JSON"),
    ],
)
def test_bad_patterns_are_refused_at_settings_load_with_the_variable_named(raw: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"TRANSCRIPT_REDACTION_PATTERNS": raw})
    assert "TRANSCRIPT_REDACTION_PATTERNS" in str(error.value)
    assert problem in str(error.value)


def test_redaction_is_on_by_default_and_can_be_switched_off() -> None:
    default = Settings.from_env({}).redaction
    assert default.transcript_redaction is True
    assert default.transcript_redaction_patterns == {}
    redactor = default.redactor()
    assert redactor is not None
    assert redactor.redact("123-45-6789") == "[REDACTED SSN]"
    assert Settings.from_env({"TRANSCRIPT_REDACTION": "false"}).redaction.redactor() is None
    configured = Settings.from_env({"TRANSCRIPT_REDACTION_PATTERNS": '{"order": "ORD-\\\\d+"}'}).redaction
    assert list(configured.transcript_redaction_patterns) == ["ORDER"]


def test_a_token_is_what_readers_skip() -> None:
    assert TOKEN.fullmatch(token("ORDER_ID"))
    assert TOKEN.fullmatch(token("SECURITY_CODE"))
