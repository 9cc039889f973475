"""The Deepgram stand-in's pre-recorded API (`POST /v1/listen` on the live port), as a client of
Deepgram's REST API meets it: auth, the JSON shape of a real response, word timing per channel,
errors, scripted failures; plus the live outage knob that sits beside it.

Most tests hear through the scripted recogniser (each 0.5 s block of mu-law "is" a word), so words
and times are exact; one hears the bundled call through pocketsphinx.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callscribe_local import g711
from callscribe_local.deepgram_server import MODEL_INFO, DeepgramStandIn
from callscribe_local.phone import bundled_conversation
from callscribe_local.recognizer import RecognizerBusyError
from callscribe_local.sphinx_recognizer import MODEL_NAME, SphinxRecognizerFactory
from callscribe_local.stack import outage_hooks
from callscribe_local.wavfile import WAVE_FORMAT_MULAW, write_wav
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for

pytestmark = pytest.mark.integration

KEY = "prerecorded-key"
AUTH = {"Authorization": f"Token {KEY}"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deepgram"
FIXTURE = FIXTURES / "prerecorded_nova3_mono.json"
LIVE_QUERY = "/v1/listen?model=nova-3&encoding=mulaw&sample_rate=8000"


@pytest.fixture
async def dg() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=KEY, idle_timeout=2) as server:
        yield server


def dual_wav(inbound: list[str | None], outbound: list[str | None], rate: int = 8000) -> bytes:
    """A 16-bit PCM two-channel WAV, as Twilio serves a dual recording, of scripted words."""
    left, right = (g711.ulaw_to_pcm16(audio_for(words)) for words in (inbound, outbound))
    if rate != 8000:
        from callscribe_local.wavfile import resample

        left, right = resample(left, 8000, rate), resample(right, 8000, rate)
    return write_wav([left, right], rate)


async def post(dg: DeepgramStandIn, body: bytes, query: str = "", **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{dg.http_url}/v1/listen{query}",
            content=body,
            headers={**AUTH, "Content-Type": "audio/wav", **headers},
        )


def shape(value: Any) -> Any:
    """Field names and JSON types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


async def test_multichannel_words_per_channel_in_deepgrams_shape(dg: DeepgramStandIn) -> None:
    wav = dual_wav(["alpha", "bravo", None, None], [None, None, "charlie", None])
    query = "?multichannel=true&model=nova-3&language=en&punctuate=true&utterances=true"
    response = await post(dg, wav, query)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert response.headers["dg-request-id"] == doc["metadata"]["request_id"]
    metadata = doc["metadata"]
    assert (metadata["channels"], metadata["duration"]) == (2, 2.0)
    assert metadata["models"] == list(metadata["model_info"])
    assert metadata["model_info"][metadata["models"][0]] == MODEL_INFO  # the scripted factory has none
    assert len(metadata["sha256"]) == 64

    inbound, outbound = (c["alternatives"][0] for c in doc["results"]["channels"])
    assert [(w["word"], w["start"], w["end"]) for w in inbound["words"]] == [
        ("alpha", 0.0, 0.5),
        ("bravo", 0.5, 1.0),
    ]
    assert [(w["word"], w["start"], w["end"]) for w in outbound["words"]] == [("charlie", 1.0, 1.5)]
    # punctuate=true: a capital and a full stop per utterance, in punctuated_word and the transcript
    assert [w["punctuated_word"] for w in inbound["words"]] == ["Alpha", "bravo."]
    assert inbound["transcript"] == "Alpha bravo."
    utterances = doc["results"]["utterances"]
    assert [(u["channel"], u["start"], u["end"], u["transcript"]) for u in utterances] == [
        (0, 0.0, 1.0, "Alpha bravo."),
        (1, 1.0, 1.5, "Charlie."),
    ]

    # The same fields and types as a real Deepgram response (nova-3, recorded by Deepgram's SDK tests).
    real = json.loads(FIXTURE.read_text())
    real_alternative = real["results"]["channels"][0]["alternatives"][0]
    assert {k: v for k, v in shape(metadata).items() if k != "model_info"} == {
        k: v for k, v in shape(real["metadata"]).items() if k != "model_info"
    }
    assert shape(inbound["words"][0]) == shape(real_alternative["words"][0])
    assert {k: shape(inbound)[k] for k in ("transcript", "confidence", "words")} == {
        k: shape(real_alternative)[k] for k in ("transcript", "confidence", "words")
    }

    record = dg.prerecorded.requests[-1]
    assert (record.status, record.channels, record.params["model"]) == (200, 2, "nova-3")


def test_the_answer_parses_as_the_sdk_response_model() -> None:
    """Where deepgram-sdk is importable (it is not a project dependency), its own model checks both
    the real fixture and the stand-in's answer."""
    sdk = pytest.importorskip("deepgram.types.listen_v1response")
    from callscribe_local.deepgram_prerecorded import build_response
    from callscribe_local.recognizer import Hypothesis, Word

    sdk.ListenV1Response.model_validate(json.loads(FIXTURE.read_text()))
    heard = [[Hypothesis((Word("hello", 0.5, 0.9),), 0.5, 0.4, is_final=True)], []]
    doc = build_response(
        heard,
        request_id="r",
        sha256="0" * 64,
        duration=1.0,
        model_uuid="u",
        model_info=MODEL_INFO,
        punctuate=True,
        utterances=True,
    )
    parsed = sdk.ListenV1Response.model_validate(doc)
    assert parsed.results.channels[0].alternatives[0].words[0].start == 0.5
    assert parsed.results.utterances[0].words[0].punctuated_word == "Hello."


async def test_other_rates_mulaw_wavs_raw_audio_and_mono_mixing(dg: DeepgramStandIn) -> None:
    # A 16 kHz file is resampled: times stay in seconds of the file.
    response = await post(dg, dual_wav([None, "delta"], ["echo", None], rate=16000), "?multichannel=true")
    doc = response.json()
    assert doc["metadata"]["duration"] == pytest.approx(1.0, abs=0.001)
    channels = doc["results"]["channels"]
    words = [[(w["word"], w["start"]) for w in c["alternatives"][0]["words"]] for c in channels]
    assert words == [[("delta", 0.5)], [("echo", 0.0)]]

    # A mu-law WAV (format tag 7), mono.
    mulaw = audio_for(["foxtrot"])
    fmt = struct.pack("<HHIIHH", WAVE_FORMAT_MULAW, 1, 8000, 8000, 1, 8)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(mulaw)) + mulaw
    doc = (await post(dg, b"RIFF" + struct.pack("<I", len(body)) + body)).json()
    assert doc["results"]["channels"][0]["alternatives"][0]["transcript"] == "foxtrot"

    # Headerless audio described by encoding/sample_rate (what the SDK sends as octet-stream).
    response = await post(
        dg,
        audio_for(["golf"]),
        "?encoding=mulaw&sample_rate=8000",
        **{"Content-Type": "application/octet-stream"},
    )
    assert response.json()["results"]["channels"][0]["alternatives"][0]["words"][0]["word"] == "golf"

    # Without multichannel the channels are mixed into one (metadata.channels is then 1).
    doc = (await post(dg, dual_wav(["hotel", None], [None, None]))).json()
    assert doc["metadata"]["channels"] == 1
    assert "utterances" not in doc["results"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"", {}, 400, "corrupt or unsupported data"),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", {}, 400, "corrupt or unsupported data"),
        (b"\x00" * 400, {}, 400, "corrupt or unsupported data"),
        (b"x", {"Authorization": "Token wrong"}, 401, "Invalid credentials."),
        (b'{"url": "https://x/a.wav"}', {"Content-Type": "application/json"}, 400, "not a URL"),
    ],
)
async def test_errors_in_deepgrams_shape(
    dg: DeepgramStandIn, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = await post(dg, body, **headers)
    assert response.status_code == status
    doc = response.json()
    assert set(doc) == {"err_code", "err_msg", "request_id"}
    assert message in doc["err_msg"]
    assert response.headers["dg-error"] == doc["err_msg"]


async def test_size_cap_and_scripted_failures(dg: DeepgramStandIn) -> None:
    wav = dual_wav(["india"], [None])
    dg.prerecorded.max_body_bytes = 1000
    assert (await post(dg, wav)).status_code == 413
    dg.prerecorded.max_body_bytes = 10**8

    dg.prerecorded.fail_next(2, 503)
    dg.prerecorded.fail_next(1, 429)
    assert [(await post(dg, wav)).status_code for _ in range(4)] == [503, 503, 429, 200]

    dg.prerecorded.reset_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        await post(dg, wav)

    dg.prerecorded.answer_all(402)
    assert (await post(dg, wav)).json()["err_code"] == "ASR_PAYMENT_REQUIRED"
    dg.prerecorded.answer_all(None)
    assert (await post(dg, wav)).status_code == 200

    # Live streams are unaffected by any of it: the same port still upgrades /v1/listen.
    async with connect(dg.url + LIVE_QUERY, additional_headers=AUTH) as ws:
        await ws.send(audio_for(["juliett", "kilo"]))
        assert json.loads(await ws.recv())["type"] == "Results"


async def test_a_full_pool_is_429() -> None:
    def busy(params: dict[str, str]) -> Any:
        raise RecognizerBusyError("all in use")

    async with DeepgramStandIn(busy, api_key=KEY) as server:
        response = await post(server, dual_wav(["lima"], [None]), "?multichannel=true")
    assert response.status_code == 429
    assert response.json()["err_code"] == "TOO_MANY_REQUESTS"


async def test_an_outage_drops_live_connections_and_refuses_new_ones(dg: DeepgramStandIn) -> None:
    begin, end = outage_hooks(dg.url, KEY, [(1.0, 2.0)])
    assert (begin[0], end[0]) == (1.0, 2.0)
    async with connect(dg.url + LIVE_QUERY, additional_headers=AUTH) as ws:
        await begin[1]()  # what the phone runs at 1.0 s of the stream
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert dg.connections[-1].close_code == 1011
    assert dg.outage_active
    with pytest.raises(InvalidStatus) as refused:
        await connect(dg.url + LIVE_QUERY, additional_headers=AUTH)
    assert refused.value.response.status_code == 503
    assert (await post(dg, dual_wav(["mike"], [None]))).status_code == 200  # pre-recorded stays up
    await end[1]()
    assert not dg.outage_active
    async with connect(dg.url + LIVE_QUERY, additional_headers=AUTH):
        pass
    assert [kind for kind, _ in dg.outages] == ["begin", "end"]
    async with httpx.AsyncClient() as client:
        refused_control = await client.post(f"{dg.http_url}/_local/outage", json={"action": "begin"})
    assert refused_control.status_code == 401


async def test_pocketsphinx_hears_the_recording_where_the_words_were_said() -> None:
    """The real recogniser on the bundled call's first two turns, as a dual recording: each word's
    time lies inside the turn spoken on its channel."""
    conversation = bundled_conversation().clip(12.0)
    tracks = [g711.ulaw_to_pcm16(conversation.inbound), g711.ulaw_to_pcm16(conversation.outbound)]
    wav = write_wav(tracks, 8000)
    factory = SphinxRecognizerFactory(max_decoders=2)
    try:
        async with DeepgramStandIn(factory, api_key=KEY) as server:
            response = await post(server, wav, "?multichannel=true&utterances=true")
    finally:
        factory.close()
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["metadata"]["model_info"][doc["metadata"]["models"][0]]["name"] == MODEL_NAME
    for channel, track in enumerate(("inbound", "outbound")):
        words = doc["results"]["channels"][channel]["alternatives"][0]["words"]
        assert words
        turns = [t for t in conversation.turns if t["track"] == track]
        for word in words:
            assert any(t["start"] - 0.5 <= word["start"] < word["end"] <= t["end"] + 0.5 for t in turns), word
    heard = {w["word"] for c in doc["results"]["channels"] for w in c["alternatives"][0]["words"]}
    assert {"delivery", "tomorrow", "problem", "order", "number"} & heard, heard
