"""What the recordings tier downloads and is answered: Twilio-shaped WAVs and Deepgram's
pre-recorded JSON, built from a synthetic call's words (tests/support/synthetic_call.py).

`wav_bytes` writes 16-bit PCM at 8 kHz, one or two channels, as Twilio's `.wav` media is
(PLATFORM_NOTES, "Twilio recordings"); the samples are silence, since the stand-in recogniser answers
from the words it is given, not from the audio. `prerecorded_response` has the shape of
tests/fixtures/deepgram/prerecorded_nova3_mono.json (a real response) with `multichannel=true`:
metadata with `model_info`, `results.channels[i].alternatives[0]` with `transcript`, `confidence`
and `words[{word, start, end, confidence, punctuated_word}]`.
"""

from __future__ import annotations

import io
import re
import uuid
import wave
from collections.abc import Iterable, Sequence
from typing import Any

from functions.recordings.words import INBOUND, OUTBOUND, Word

SAMPLE_RATE = 8000


def wav_bytes(seconds: float, channels: int = 2, *, list_chunk: bool = False) -> bytes:
    """A PCM WAV of `seconds` of silence; `list_chunk` puts a LIST chunk before `data`, as some
    writers do (the parser must skip it)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(b"\0\0" * channels * round(seconds * SAMPLE_RATE))
    data = out.getvalue()
    if not list_chunk:
        return data
    info = b"INFOISFT\x06\x00\x00\x00Twilio"
    chunk = b"LIST" + len(info).to_bytes(4, "little") + info
    at = data.index(b"data")
    body = data[12:at] + chunk + data[at:]
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WAVE" + body


def _bare(text: str) -> str:
    return re.sub(r"[^\w']", "", text).lower() or text.lower()


def prerecorded_response(
    words: Iterable[Word], *, channels: int = 2, duration: float = 60.0, model: str = "nova-3"
) -> dict[str, Any]:
    """Deepgram's answer to `POST /v1/listen?multichannel=true` for these words (recording time)."""
    tracks: Sequence[str] = (INBOUND, OUTBOUND) if channels == 2 else (INBOUND,)
    by_track: dict[str, list[Word]] = {track: [] for track in tracks}
    for word in words:
        by_track[word.track].append(word)
    model_id = str(uuid.uuid5(uuid.NAMESPACE_URL, model))
    results = []
    for track in tracks:
        heard = sorted(by_track[track], key=lambda w: w.start)
        results.append(
            {
                "alternatives": [
                    {
                        "transcript": " ".join(w.text for w in heard),
                        "confidence": 0.97,
                        "words": [
                            {
                                "word": _bare(w.text),
                                "start": w.start,
                                "end": w.end,
                                "confidence": w.confidence if w.confidence is not None else 0.9,
                                "punctuated_word": w.text,
                            }
                            for w in heard
                        ],
                    }
                ]
            }
        )
    return {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": str(uuid.uuid4()),
            "sha256": "0" * 64,
            "created": "2026-11-26T10:05:00.000Z",
            "duration": duration,
            "channels": channels,
            "models": [model_id],
            "model_info": {model_id: {"name": f"general-{model}", "version": "2026-01-01.0", "arch": model}},
        },
        "results": {"channels": results},
    }
