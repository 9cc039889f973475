"""The WAV check before a recording is stored or sent to Deepgram."""

from __future__ import annotations

import io
import struct

import pytest

from functions.recordings.errors import InvalidRecordingError
from functions.recordings.wav import MULAW, inspect_wav
from tests.support.recording_media import wav_bytes


def inspect(data: bytes):  # type: ignore[no-untyped-def]
    return inspect_wav(io.BytesIO(data), len(data))


def test_twilios_dual_channel_pcm() -> None:
    info = inspect(wav_bytes(3.0, channels=2))
    assert (info.format_tag, info.channels, info.sample_rate, info.bits_per_sample) == (1, 2, 8000, 16)
    assert info.duration_seconds == pytest.approx(3.0)


def test_other_chunks_before_the_audio_are_skipped() -> None:
    assert inspect(wav_bytes(1.0, channels=1, list_chunk=True)).duration_seconds == pytest.approx(1.0)


def with_chunks_before_data(data: bytes, *chunks: tuple[bytes, bytes]) -> bytes:
    """`data` (a WAV) with these (id, body) chunks put right before its `data` chunk."""
    at = data.index(b"data")
    extra = b"".join(
        cid + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1) for cid, body in chunks
    )
    body = data[12:at] + extra + data[at:]
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body


def test_a_large_list_chunk_before_the_audio_is_skipped() -> None:
    tags = b"INFO" + b"ICMT" + struct.pack("<I", 70 * 1024) + b"x" * (70 * 1024)
    info = inspect(with_chunks_before_data(wav_bytes(1.0, channels=2), (b"LIST", tags), (b"JUNK", b"\0" * 3)))
    assert (info.channels, info.duration_seconds) == (2, pytest.approx(1.0))


def test_a_file_of_chunks_that_never_reaches_its_data_is_refused() -> None:
    many = [(b"JUNK", b"")] * 100
    with pytest.raises(InvalidRecordingError, match="more than 64 chunks"):
        inspect(with_chunks_before_data(wav_bytes(0.1), *many))


def test_mulaw_is_accepted_as_deepgram_decodes_it() -> None:
    fmt = struct.pack("<HHIIHH", MULAW, 1, 8000, 8000, 1, 8)
    audio = b"\xff" * 800
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(audio)) + audio
    assert inspect(b"RIFF" + struct.pack("<I", len(body)) + body).duration_seconds == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "not a RIFF/WAVE"),
        (b'{"code": 20404, "message": "not found"}', "not a RIFF/WAVE"),
        (wav_bytes(0.0), "no audio"),
        (wav_bytes(1.0)[:2000], "claims"),  # cut short
        (wav_bytes(1.0)[:40], "no data chunk"),
        (wav_bytes(1.0)[:12] + b"data" + b"\x04\x00\x00\x00" + b"\0" * 4, "before its fmt"),
    ],
)
def test_what_is_not_a_usable_wav_is_refused(data: bytes, needle: str) -> None:
    with pytest.raises(InvalidRecordingError, match=needle) as raised:
        inspect(data)
    assert not raised.value.retryable


def test_more_than_two_channels_is_not_a_call_recording() -> None:
    data = bytearray(wav_bytes(0.1, channels=2))
    data[22:24] = (3).to_bytes(2, "little")
    with pytest.raises(InvalidRecordingError, match="3"):
        inspect(bytes(data))
