"""The per-call stream token (shared.stream_token): the contract's exact bytes, and every way to fail.

The known vectors are written out by hand (message bytes and digests), not computed with the module,
so a change in the encoding rules cannot pass by changing both sides at once.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shared import stream_token
from tests.conftest import TEST_AUTH_TOKEN

SID = "CA0123456789abcdef0123456789abcdef"
PARAMS = {
    "route": "forward_~.-",
    "callSid": SID,
    "mode": "agent",
    "greeting": "Hi there, café & co. <ok>",
    "from": "+14155550100",
}
# sorted by name; quote_plus: space -> "+", "," "&" "<" ">" "+" and UTF-8 bytes -> %XX, "_~.-" kept
KNOWN_MESSAGE = (
    b"v1\nCA0123456789abcdef0123456789abcdef\n"
    b"callSid=CA0123456789abcdef0123456789abcdef&from=%2B14155550100"
    b"&greeting=Hi+there%2C+caf%C3%A9+%26+co.+%3Cok%3E&mode=agent&route=forward_~.-"
)
KNOWN_TOKEN = "0ff741206bb3023d8a1153bd41455d697b5fb73cb857d106d5d79e56795760f7"
SECONDARY = "secondary-auth-token-fedcba9876543210"


def signed(params: dict[str, str], *, key: str = TEST_AUTH_TOKEN, call_sid: str = SID) -> dict[str, str]:
    return {**params, "token": stream_token.sign(key, call_sid, params)}


def test_known_vector() -> None:
    independent = hmac.new(TEST_AUTH_TOKEN.encode(), KNOWN_MESSAGE, hashlib.sha256).hexdigest()
    assert independent == KNOWN_TOKEN
    assert stream_token.message(SID, PARAMS) == KNOWN_MESSAGE
    assert stream_token.sign(TEST_AUTH_TOKEN, SID, PARAMS) == KNOWN_TOKEN
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, {**PARAMS, "token": KNOWN_TOKEN})


def test_no_parameters_signs_an_empty_pair_list() -> None:
    expected = "47ee05f8bc5647d01bd1305b8db7786ef2021504c79b1ee851e2138b8a7ed300"
    assert stream_token.message(SID, {}) == f"v1\n{SID}\n".encode()
    assert stream_token.sign(TEST_AUTH_TOKEN, SID, {}) == expected
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, {"token": expected})


def test_token_is_lowercase_hex_sha256() -> None:
    token = stream_token.sign(TEST_AUTH_TOKEN, SID, PARAMS)
    assert len(token) == 64
    assert token == token.lower()
    int(token, 16)
    assert not stream_token.verify([TEST_AUTH_TOKEN], SID, {**PARAMS, "token": token.upper()})


def test_parameter_order_does_not_matter() -> None:
    reversed_params = dict(reversed(list(PARAMS.items())))
    assert list(reversed_params) != list(PARAMS)
    assert stream_token.sign(TEST_AUTH_TOKEN, SID, reversed_params) == KNOWN_TOKEN
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, {"token": KNOWN_TOKEN, **reversed_params})


def test_the_token_parameter_is_not_part_of_the_message() -> None:
    assert stream_token.sign(TEST_AUTH_TOKEN, SID, {**PARAMS, "token": "anything"}) == KNOWN_TOKEN


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "mode": "transcribe"},  # a changed value
        lambda p: {**p, "Mode": "agent"},  # names are case-sensitive: an extra parameter
        lambda p: {k: v for k, v in p.items() if k != "from"},  # a dropped parameter
        lambda p: {**p, "transferTo": "+19005550000"},  # an added parameter
        lambda p: {**p, "greeting": p["greeting"] + " "},  # trailing whitespace counts
    ],
)
def test_tampered_parameters_fail(tamper: object) -> None:
    genuine = signed(PARAMS)
    tampered = tamper(genuine)  # type: ignore[operator]
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, genuine)
    assert not stream_token.verify([TEST_AUTH_TOKEN], SID, tampered)


def test_the_token_is_bound_to_its_call() -> None:
    other = "CA" + "f" * 32
    assert not stream_token.verify([TEST_AUTH_TOKEN], other, signed(PARAMS))
    assert stream_token.verify([TEST_AUTH_TOKEN], other, signed(PARAMS, call_sid=other))


@pytest.mark.parametrize(
    "bad_sid",
    [
        "CA../../../x",
        "CA" + "0" * 31,
        "CA" + "0" * 33,
        "CA" + "g" * 32,
        "ca" + "0" * 32,
        "MZ" + "0" * 32,
        SID + "\n",
        " " + SID,
        "CA" + "\uff10" * 32,  # fullwidth zeros: \d in Unicode regexes, not hex digits
        "",
        None,
        42,
    ],
)
def test_malformed_call_sids_are_refused(bad_sid: object) -> None:
    assert not stream_token.is_call_sid(bad_sid)
    token = stream_token.sign(TEST_AUTH_TOKEN, SID, {})
    assert not stream_token.verify([TEST_AUTH_TOKEN], bad_sid, {"token": token})
    if isinstance(bad_sid, str):
        with pytest.raises(ValueError, match="not a call SID"):
            stream_token.sign(TEST_AUTH_TOKEN, bad_sid, {})


def test_upper_case_hex_sids_are_call_sids() -> None:
    assert stream_token.is_call_sid("CA" + "ABCDEF0123" * 3 + "ab")


def test_secondary_auth_token_is_accepted() -> None:
    by_secondary = signed(PARAMS, key=SECONDARY)
    assert stream_token.verify([TEST_AUTH_TOKEN, SECONDARY], SID, by_secondary)
    assert stream_token.verify([TEST_AUTH_TOKEN, SECONDARY], SID, signed(PARAMS))
    assert not stream_token.verify([TEST_AUTH_TOKEN], SID, by_secondary)
    assert not stream_token.verify(["some-other-token"], SID, signed(PARAMS))


def test_no_usable_key_verifies_nothing() -> None:
    assert not stream_token.verify([], SID, signed(PARAMS))
    by_empty_key = hmac.new(b"", stream_token.message(SID, PARAMS), hashlib.sha256).hexdigest()
    assert not stream_token.verify(["", ""], SID, {**PARAMS, "token": by_empty_key})
    with pytest.raises(ValueError, match="empty auth token"):
        stream_token.sign("", SID, PARAMS)


def test_one_token_string_is_not_a_list_of_tokens() -> None:
    with pytest.raises(TypeError):
        stream_token.verify(TEST_AUTH_TOKEN, SID, signed(PARAMS))


@pytest.mark.parametrize(
    "custom_parameters",
    [
        None,
        [],
        "token=abc",
        {k: v for k, v in PARAMS.items()},  # no token at all
        {**PARAMS, "token": None},
        {**PARAMS, "token": 12},
        {**PARAMS, "mode": 1},  # Twilio sends strings only; a number is not what we signed
        {**PARAMS, 3: "x"},
    ],
)
def test_malformed_custom_parameters_fail(custom_parameters: object) -> None:
    assert not stream_token.verify([TEST_AUTH_TOKEN], SID, custom_parameters)


def test_the_test_media_stream_signs_start_like_our_webhooks() -> None:
    from tests.support.twilio_media import signed_parameters

    params = signed_parameters(TEST_AUTH_TOKEN, SID, {"mode": "agent"})
    assert set(params) == {"mode", "token"}
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, params)
