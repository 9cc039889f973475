"""Nothing private stored: the streamer redacts every final segment before it is written, counts
what it took out on the call record, and logs no transcript text.

Real sockets and moto as in test_streamer_bridge; the Deepgram stand-in hears phrases
(`PhraseBook`), so the caller can read out a card number in words, in digits, in two segments, one
group of four per segment followed by its expiry and security code, and an SSN."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from shared.observability import logger
from tests.support.agent_harness import agent_rig, call_parameters
from tests.support.log_capture import (
    leaked,
    log_output_fixture,  # noqa: F401 - provides `log_output`
)
from tests.support.phrase_recognizer import PhraseBook
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    call_record,
    segments,
    streamer_running,
    twilio_stream,
    wait_for_call_end,
)

pytestmark = pytest.mark.integration

CARD_WORDS = "my card is four one one one one one one one one one one one one one one one"
CARD_DIGITS = "it is 4111 1111 1111 1111"
SSN = "and my social is 078-05-1120"
FIRST_HALF, SECOND_HALF = "5555 5555", "5555 4444"  # one Mastercard test number, read out in two
KEPT = "call me at 10:30 about order 42"
ORDER = "order ORD-77123"
# as people read a card: one group per final, then the expiry and the code, then other words
GROUPS = ["4111", "1111", "1111", "1111", "0 4 2 7", "1 2 3"]
AFTER = "is that right"
BOOK = PhraseBook(
    CARD_WORDS,
    CARD_DIGITS,
    SSN,
    FIRST_HALF,
    SECOND_HALF,
    KEPT,
    ORDER,
    "thanks",
    *dict.fromkeys(GROUPS),
    AFTER,
)
# one phrase per segment (a final every two blocks: the phrase, then a pause)
SPOKEN = [CARD_WORDS, None, CARD_DIGITS, None, SSN, None, FIRST_HALF, None, SECOND_HALF, None, KEPT, None]
# long enough that no id, timestamp or ARN in a log line holds one by chance
SECRETS = ("four one one one", "4111 1111", "1111 1111", "078-05-1120", "5555 5555", "5555 4444")


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(BOOK.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """Every level the streamer logs at, debug included: a debug line must not carry text either."""
    level = logger.log_level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(level)


async def _call(
    local: LocalAws, deepgram: DeepgramStandIn, call_sid: str, spoken: list[str | None], **env: str
) -> None:
    async with streamer_running(local, deepgram.url, **env) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": BOOK.audio_for(spoken)})
        await twilio.stop()
        await wait_for_call_end(server)


@pytest.mark.usefixtures("debug_logs")
async def test_card_numbers_and_ssns_are_redacted_before_they_are_written(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str, log_output: io.StringIO
) -> None:
    await _call(local_stack, deepgram, call_sid, SPOKEN)

    stored = await segments(local_stack, call_sid)
    assert [s.text for s in stored] == [
        "my card is [REDACTED CARD]",
        "it is [REDACTED CARD]",
        "and my social is [REDACTED SSN]",
        "[REDACTED CARD]",  # the two halves, judged as one number once the next words came
        "[REDACTED CARD]",
        KEPT,  # times and short numbers stay
    ]
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert record.segment_count == 6
    assert record.redaction_counts == {"CARD": 3, "SSN": 1}

    logs = log_output.getvalue()
    assert "final segment" in logs  # the debug lines were captured, and they hold no text
    assert leaked((*SECRETS, "my card is", "my social is", "order 42"), logs) == []


async def test_a_number_still_held_when_the_stream_ends_is_judged_and_stored(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    await _call(local_stack, deepgram, call_sid, [FIRST_HALF, None, SECOND_HALF, None])

    stored = await segments(local_stack, call_sid)
    assert [s.text for s in stored] == ["[REDACTED CARD]", "[REDACTED CARD]"]
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert (record.segment_count, record.redaction_counts) == (2, {"CARD": 1})


@pytest.mark.usefixtures("debug_logs")
async def test_a_card_read_one_group_per_segment_with_its_expiry_and_code_is_stored_redacted(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str, log_output: io.StringIO
) -> None:
    spoken: list[str | None] = [block for group in [*GROUPS, AFTER] for block in (group, None)]
    await _call(local_stack, deepgram, call_sid, spoken)

    stored = await segments(local_stack, call_sid)
    assert [s.text for s in stored] == [
        *["[REDACTED CARD]"] * 4,
        "[REDACTED EXPIRY]",
        "[REDACTED SECURITY_CODE]",
        AFTER,
    ]
    assert [s.start for s in stored] == sorted(s.start for s in stored)  # held, then stored in place
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert (record.transcript_status, record.segment_count) == ("completed", 7)
    assert record.redaction_counts == {"CARD": 1, "EXPIRY": 1, "SECURITY_CODE": 1}
    logs = log_output.getvalue()
    assert "final segment" in logs
    assert leaked(("4111", "0 4 2 7", "1 2 3"), logs) == []


async def test_configured_patterns_are_redacted_and_counted_by_name(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    patterns = json.dumps({"order_id": r"\bORD-\d+\b"})
    await _call(
        local_stack, deepgram, call_sid, [ORDER, None, "thanks", None], TRANSCRIPT_REDACTION_PATTERNS=patterns
    )

    stored = await segments(local_stack, call_sid)
    assert [s.text for s in stored] == ["order [REDACTED ORDER_ID]", "thanks"]
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.redaction_counts == {"ORDER_ID": 1}


async def test_with_redaction_off_segments_are_stored_as_heard_and_nothing_is_counted(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    await _call(
        local_stack, deepgram, call_sid, [CARD_DIGITS, None, "thanks", None], TRANSCRIPT_REDACTION="false"
    )

    stored = await segments(local_stack, call_sid)
    assert [s.text for s in stored] == [CARD_DIGITS, "thanks"]
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.redaction_counts is None  # not `{}`: redaction did not run


async def test_what_the_agent_says_is_redacted_too(local_stack: LocalAws, call_sid: str) -> None:
    replies = (Reply.message("Your card 4111 1111 1111 1111 is on file."),)
    async with agent_rig(local_stack, *replies) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1)  # the greeting has played
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(phone.echoed) >= 2)  # the answer has played
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    stored = await segments(local_stack, call_sid)
    agent = [s.text for s in stored if s.speaker == "agent"]
    assert agent[-1] == "Your card [REDACTED CARD] is on file."
    assert not any("4111" in s.text for s in stored)
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.redaction_counts == {"CARD": 1}
