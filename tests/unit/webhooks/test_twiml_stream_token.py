"""`twiml.sign_streams`: the token covers exactly the `<Parameter>`s a stream emits, nothing else."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from functions.webhooks import twiml
from shared import stream_token
from tests.conftest import TEST_AUTH_TOKEN

SID = "CA" + "b" * 32
STREAM_URL = "wss://stream.example.com/media"
CALLBACKS = twiml.CallbackUrls.under("https://hooks.example.com/prod")


def parameters_of(document: str) -> list[dict[str, str]]:
    root = ET.fromstring(document)  # noqa: S314 - our own TwiML
    return [
        {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
        for verb in root
        if verb.tag in ("Start", "Connect")
        for stream in verb.findall("Stream")
    ]


def sign(document: str) -> str:
    return twiml.sign_streams(document, call_sid=SID, auth_token=TEST_AUTH_TOKEN)


def test_dropped_parameters_are_not_signed() -> None:
    too_long = "x" * twiml.MAX_PARAMETER_CHARS
    document = twiml.forward(
        stream_url=STREAM_URL,
        parameters={"callSid": SID, "from": "+14155550100", "gone": None, "empty": "", "huge": too_long},
        notice=None,
        number="+14155550111",
        callbacks=CALLBACKS,
    )
    [emitted] = parameters_of(sign(document))
    assert set(emitted) == {"callSid", "from", "token"}
    assert emitted["token"] == stream_token.sign(
        TEST_AUTH_TOKEN, SID, {"callSid": SID, "from": "+14155550100"}
    )
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, emitted)


def test_a_token_in_the_parameters_is_replaced_not_trusted() -> None:
    document = twiml.agent(stream_url=STREAM_URL, parameters={"callSid": SID, "token": "forged"})
    assert parameters_of(document) == [{"callSid": SID, "mode": "agent"}]  # the builder drops it
    smuggled = document.replace("</Stream>", '<Parameter name="token" value="forged" /></Stream>')
    [emitted] = parameters_of(sign(smuggled))
    assert emitted["token"] != "forged"
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, emitted)


def test_duplicate_parameter_names_are_refused() -> None:
    document = twiml.agent(stream_url=STREAM_URL, parameters={"callSid": SID})
    doubled = document.replace("</Stream>", '<Parameter name="callSid" value="CAother" /></Stream>')
    with pytest.raises(ValueError, match="two <Parameter name='callSid'>"):
        sign(doubled)


def test_twiml_without_a_stream_is_unchanged() -> None:
    for document in (
        twiml.hang_up(),
        twiml.say_and_hang_up("Bye."),
        '<Response><Stop><Stream name="s" /></Stop></Response>',
    ):
        assert sign(document) == document


def test_signed_twiml_is_the_same_document_plus_the_token() -> None:
    document = twiml.say_and_hang_up("Bye.", stream_url=STREAM_URL, parameters={"callSid": SID})
    signed = sign(document)
    assert signed.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    token = parameters_of(signed)[0]["token"]
    assert signed == document.replace("</Stream>", f'<Parameter name="token" value="{token}" /></Stream>')
