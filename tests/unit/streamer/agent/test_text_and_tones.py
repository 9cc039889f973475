"""Pure pieces of agent mode: sentence cutting, DTMF synthesis, history, what-was-heard, profiles."""

from __future__ import annotations

import math

import pytest

from shared.routing import parse_call_routes
from streamer.agent import prompt
from streamer.agent.dtmf import FREQUENCIES, dtmf_audio, tone
from streamer.agent.llm import History
from streamer.agent.profile import AgentProfile
from streamer.agent.sentences import SentenceSplitter, split_sentences
from streamer.agent.utterance import Sentence, Utterance

# ---- sentences -----------------------------------------------------------------------------------


def test_sentences_come_out_as_soon_as_they_end() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Hello there.") == []  # no space after the full stop yet: maybe "3.5"
    assert splitter.feed(" How can") == ["Hello there."]
    assert splitter.feed(" I help? We") == ["How can I help?"]
    assert splitter.flush() == ["We"]
    assert splitter.flush() == []


def test_decimal_numbers_do_not_split_and_run_ons_are_cut() -> None:
    assert split_sentences("It costs 3.50 dollars. Thanks!") == ["It costs 3.50 dollars.", "Thanks!"]
    run_on = ", ".join(["and then some more words"] * 20)
    pieces = SentenceSplitter(max_chars=60).feed(run_on)
    assert pieces
    assert all(len(p) <= 61 for p in pieces)


# ---- DTMF ----------------------------------------------------------------------------------------


def _mulaw_to_linear(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    magnitude = ((mantissa << 3) + 0x84) << exponent
    return -(magnitude - 0x84) if sign else magnitude - 0x84


def _power(samples: list[int], freq: float) -> float:
    """Goertzel: the energy of one frequency, as a DTMF receiver measures it."""
    coeff = 2 * math.cos(2 * math.pi * freq / 8000)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


@pytest.mark.parametrize("digit", ["1", "5", "9", "0", "*", "#", "D"])
def test_each_tone_carries_exactly_its_row_and_column_frequency(digit: str) -> None:
    samples = [_mulaw_to_linear(b) for b in tone(digit)]
    powers = {f: _power(samples, f) for f in (697, 770, 852, 941, 1209, 1336, 1477, 1633)}
    low, high = FREQUENCIES[digit]
    strongest = sorted(powers, key=powers.__getitem__, reverse=True)[:2]
    assert sorted(strongest) == sorted([low, high])
    assert min(powers[low], powers[high]) > 20 * max(p for f, p in powers.items() if f not in (low, high))


def test_dial_string_layout_and_refusals() -> None:
    audio = dtmf_audio("1w#")
    assert len(audio) == (800 + 640) + 4000 + (800 + 640)
    assert audio[800:1440] == b"\xff" * 640
    for bad in ("", "12x", "1" * 33, "12 3"):
        with pytest.raises(ValueError, match="digits must be"):
            dtmf_audio(bad)


# ---- history and what the caller heard -----------------------------------------------------------


def test_history_merges_same_role_turns_and_starts_with_the_user() -> None:
    history = History()
    history.add("assistant", "Hello.")
    history.add("user", "alpha")
    history.add("user", "bravo")
    history.add("assistant", "")  # nothing heard: nothing added
    request = history.for_request()
    assert [m["role"] for m in request] == ["user", "assistant", "user"]
    assert [b["text"] for b in request[2]["content"]] == ["alpha", "bravo"]
    request[2]["content"].append({"type": "text", "text": "x"})
    assert len(history.messages[1]["content"]) == 2  # the request is a copy
    history.truncate(1)
    assert [m["role"] for m in history.messages] == ["assistant"]


def test_heard_text_counts_played_sentences_and_a_share_of_the_playing_one() -> None:
    utterance = Utterance(number=1, turn_ended_at=None)
    utterance.sentences = [
        Sentence("One two three.", "m1", audio_bytes=3000, played=True),
        Sentence("Four five six seven.", "m2", audio_bytes=4000),
        Sentence("Eight.", "m3", audio_bytes=1000),
    ]
    assert utterance.heard_text(3000) == "One two three."
    assert utterance.heard_text(5000) == "One two three. Four five"
    assert utterance.heard_text(8000) == "One two three. Four five six seven. Eight."
    utterance.sentences[0].played = False
    assert utterance.heard_text(0) == ""


# ---- profile and prompt --------------------------------------------------------------------------


def test_profile_takes_parameters_then_the_route_then_defaults() -> None:
    routes = parse_call_routes(
        '{"+14155550177": {"agent": {"instructions": "Sell plumbing.", "transferTo": "+14155550111"}}}'
    )
    profile = AgentProfile.resolve(
        {"to": "+14155550177", "greeting": "Hi!", "voice": "aura-2-zeus-en"}, routes
    )
    assert (profile.greeting, profile.instructions, profile.voice) == (
        "Hi!",
        "Sell plumbing.",
        "aura-2-zeus-en",
    )
    assert profile.transfer_to == "+14155550111"
    other = AgentProfile.resolve({"to": "+14155550100", "transferTo": "not-a-number"}, routes)
    assert other.transfer_to is None
    assert "receptionist" in other.instructions


def test_transfer_number_never_comes_from_stream_parameters() -> None:
    # The parameters are the WebSocket client's word; only the streamer's own routes name a target.
    routes = parse_call_routes('{"+14155550177": {"agent": {"transferTo": "+14155550111"}}}')
    forged = AgentProfile.resolve({"to": "+14155550177", "transferTo": "+19005550199"}, routes)
    assert forged.transfer_to == "+14155550111"
    unrouted = AgentProfile.resolve({"to": "+14155550100", "transferTo": "+19005550199"}, routes)
    assert unrouted.transfer_to is None


def test_prompt_is_versioned_and_cached() -> None:
    blocks = prompt.system_blocks("v1", "  Be brief.  ")
    assert blocks[0]["cache_control"] == {"type": "ephemeral"}
    assert "<business_instructions>\nBe brief.\n</business_instructions>" in blocks[0]["text"]
    with pytest.raises(ValueError, match="no agent prompt version 'v0'"):
        prompt.template("v0")
    names = [t["name"] for t in prompt.tools(["+14155550111"])]
    assert names == ["end_call", "transfer_call", "send_dtmf"]
