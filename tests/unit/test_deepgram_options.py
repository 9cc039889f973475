"""`shared.deepgram.DeepgramOptions`: the one set of transcription options live and pre-recorded share."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from shared.deepgram import DeepgramOptions
from streamer.config import DeepgramSettings


def test_the_transcription_options_as_query_parameters() -> None:
    shared = DeepgramOptions.model_validate(
        {"api_key": "dg-key", "redact": "pci, ssn", "keyterm": "callscribe"}
    )
    assert shared.transcription_params() == [
        ("model", "nova-3"),
        ("language", "en"),
        ("smart_format", "true"),
        ("punctuate", "true"),
        ("redact", "pci"),
        ("redact", "ssn"),
        ("keyterm", "callscribe"),
    ]


def test_the_streamers_live_url_carries_every_shared_option() -> None:
    live = DeepgramSettings.model_validate({"api_key": "k", "redact": "pci", "model": "nova-2"})
    query = parse_qsl(urlsplit(live.listen_url()).query)
    for pair in live.transcription_params():
        assert pair in query
    assert ("encoding", "mulaw") in query  # plus what only a live stream needs


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("wss://api.deepgram.com", "https://api.deepgram.com"),
        ("wss://api.deepgram.com/", "https://api.deepgram.com"),
        ("ws://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("wss://eu.example.com/deepgram/", "https://eu.example.com/deepgram"),
    ],
)
def test_the_rest_base_is_the_websocket_hosts_with_http(url: str, base: str) -> None:
    assert DeepgramOptions.model_validate({"api_key": "k", "url": url}).http_base_url() == base


def test_a_call_may_choose_its_language_and_model() -> None:
    options = DeepgramSettings.model_validate({"api_key": "k"})
    chosen = options.for_call(language="es-419", model="nova-2-phonecall")
    assert (chosen.language, chosen.model) == ("es-419", "nova-2-phonecall")
    assert isinstance(chosen, DeepgramSettings)  # the live settings stay live settings
    assert options.for_call(language=None, model=None) is options
    # anything that is not a plain Deepgram name keeps the default instead of reaching the query string
    odd = options.for_call(language="en&model=x", model="")
    assert (odd.language, odd.model) == ("en", "nova-3")
