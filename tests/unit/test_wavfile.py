"""WAV reading and writing for the local tools (callscribe_local.wavfile, .g711), on files made here.

`callscribe call` takes G.711 WAVs (format tags 7 and 6) as well as PCM; the Twilio stand-in serves
recordings as 16-bit PCM WAV; the Deepgram stand-in reads whatever it is sent. Every file below is
built byte by byte in the test (fmt/fact/LIST/data chunks, odd sizes), so nothing depends on
another tool's idea of the format.
"""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import pytest

from callscribe_local import cli, g711
from callscribe_local.phone import PhoneError, load_tracks
from callscribe_local.wavfile import (
    WAVE_FORMAT_ALAW,
    WAVE_FORMAT_EXTENSIBLE,
    WAVE_FORMAT_IEEE_FLOAT,
    WAVE_FORMAT_MULAW,
    WAVE_FORMAT_PCM,
    WavError,
    read_wav,
    to_phone,
    write_wav,
)


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    """A RIFF/WAVE file of the given chunks, each padded to even length as RIFF requires."""
    body = b"WAVE"
    for chunk_id, data in chunks:
        body += chunk_id + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag: int, channels: int, rate: int, bits: int, extra: bytes | None = None) -> tuple[bytes, bytes]:
    align = channels * bits // 8
    data = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if extra is not None:
        data += struct.pack("<H", len(extra)) + extra
    return b"fmt ", data


def pcm16(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


# -- G.711 tables ----------------------------------------------------------------------------------


def test_g711_tables_follow_the_standard() -> None:
    # mu-law: 0xFF and 0x7F are the two zeros, 0x80/0x00 the extremes (±32124)
    assert g711.MULAW_TO_LINEAR[0xFF] == 0
    assert g711.MULAW_TO_LINEAR[0x7F] == 0
    assert g711.MULAW_TO_LINEAR[0x80] == 32124
    assert g711.MULAW_TO_LINEAR[0x00] == -32124
    # A-law: 0xD5 / 0x55 are the smallest magnitudes (±8), 0xAA / 0x2A the extremes (±32256)
    assert (g711.ALAW_TO_LINEAR[0xD5], g711.ALAW_TO_LINEAR[0x55]) == (8, -8)
    assert (g711.ALAW_TO_LINEAR[0xAA], g711.ALAW_TO_LINEAR[0x2A]) == (32256, -32256)
    # Decoding then re-encoding mu-law is the identity (but for -0, which becomes +0)
    everything = bytes(range(256))
    assert g711.pcm16_to_ulaw(g711.ulaw_to_pcm16(everything)) == everything.replace(b"\x7f", b"\xff")
    assert g711.ulaw_to_pcm16(b"\x80\xff") == pcm16(32124, 0)


# -- reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "table"), [(WAVE_FORMAT_MULAW, g711.MULAW_TO_LINEAR), (WAVE_FORMAT_ALAW, g711.ALAW_TO_LINEAR)]
)
def test_g711_wav_with_fact_chunk_and_odd_padding(tag: int, table: tuple[int, ...]) -> None:
    samples = bytes([0x00, 0x13, 0x80, 0xD5, 0x2A, 0xFF, 0x55])  # 7 samples: an odd-sized data chunk
    data = riff(
        fmt(tag, 1, 8000, 8, extra=b""),  # G.711 writers add cbSize = 0: an 18-byte fmt chunk
        (b"fact", struct.pack("<I", len(samples))),
        (b"LIST", b"INFOISFT\x03\x00\x00\x00me\x00"),  # odd-sized: padded, must be skipped right
        (b"data", samples),
    )
    audio = read_wav(data)
    assert (audio.format_tag, audio.bits_per_sample, audio.rate, len(audio.channels)) == (tag, 8, 8000, 1)
    assert audio.channels[0] == pcm16(*(table[b] for b in samples))
    assert audio.frames == 7


def test_stereo_mulaw_16k_becomes_two_8k_phone_tracks() -> None:
    left, right = 0x9A, 0x1A  # two different mu-law levels, held for 1 s at 16 kHz
    frames = bytes([left, right]) * 16000
    audio = read_wav(riff(fmt(WAVE_FORMAT_MULAW, 2, 16000, 8), (b"data", frames)))
    assert audio.rate == 16000
    assert audio.channels[0] == g711.ulaw_to_pcm16(bytes([left]) * 16000)
    assert audio.channels[1] == g711.ulaw_to_pcm16(bytes([right]) * 16000)
    inbound, outbound = to_phone(audio)
    assert outbound is not None
    assert abs(len(inbound) - 8000) <= 2
    assert len(inbound) == len(outbound)
    assert set(inbound[10:-10]) == {left}
    assert set(outbound[10:-10]) == {right}


def test_a_large_list_chunk_before_the_audio_is_skipped() -> None:
    """As the recordings Lambda's check (tests/unit/recordings/test_wav.py): 70 KiB of tags first."""
    tags = b"INFO" + b"ICMT" + struct.pack("<I", 70 * 1024) + b"x" * (70 * 1024)
    audio = read_wav(riff(fmt(WAVE_FORMAT_PCM, 1, 8000, 16), (b"LIST", tags), (b"data", pcm16(1, -2, 3))))
    assert audio.channels == (pcm16(1, -2, 3),)


def test_pcm_widths_extensible_and_8k_mono() -> None:
    sixteen = read_wav(riff(fmt(WAVE_FORMAT_PCM, 1, 8000, 16), (b"data", pcm16(1000, -1000, 0))))
    assert sixteen.channels[0] == pcm16(1000, -1000, 0)
    eight = read_wav(riff(fmt(WAVE_FORMAT_PCM, 1, 8000, 8), (b"data", bytes([128, 255, 0]))))
    assert eight.channels[0] == pcm16(0, 127 << 8, -128 << 8)  # 8-bit WAV PCM is unsigned
    float_data = struct.pack("<3f", 0.5, -1.0, 0)
    floats = read_wav(riff(fmt(WAVE_FORMAT_IEEE_FLOAT, 1, 8000, 32), (b"data", float_data)))
    assert floats.channels[0] == pcm16(16384, -32767, 0)
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    extension = struct.pack("<HI", 16, 4) + struct.pack("<H", WAVE_FORMAT_MULAW) + guid_tail
    extensible = read_wav(
        riff(fmt(WAVE_FORMAT_EXTENSIBLE, 1, 8000, 8, extra=extension), (b"data", b"\x80\xff"))
    )
    assert extensible.format_tag == WAVE_FORMAT_MULAW
    assert extensible.channels[0] == pcm16(32124, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a RIFF/WAVE"),
        (b"RIFX" + b"\0" * 40, "RIFX"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "no 'fmt '"),
        (riff(fmt(WAVE_FORMAT_PCM, 1, 8000, 16)), "no 'data'"),
        (riff((b"fmt ", b"\x01\x00\x01\x00"), (b"data", b"\0\0")), "at least 16"),
        (riff(fmt(85, 1, 8000, 0), (b"data", b"\0" * 4)), "unsupported format tag 85"),
        (riff(fmt(WAVE_FORMAT_MULAW, 1, 8000, 16), (b"data", b"\0" * 4)), "G.711 has 8"),
        (riff(fmt(WAVE_FORMAT_PCM, 0, 8000, 16), (b"data", b"\0" * 4)), "zero channels"),
        (b"RIFF\x40\x00\x00\x00WAVEfmt \x20\x00\x00\x00\x01\x00", "past the end"),
    ],
)
def test_corrupt_files_give_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(WavError, match=message):
        read_wav(data)


def test_a_truncated_data_chunk_is_an_error_unless_tolerated() -> None:
    whole = write_wav([pcm16(*range(100))], 8000)
    cut = whole[: len(whole) - 51]  # half a sample too: only whole frames are kept
    with pytest.raises(WavError, match="truncated"):
        read_wav(cut)
    tolerant = read_wav(cut, strict=False)
    assert tolerant.truncated
    assert tolerant.channels[0] == pcm16(*range(74))
    # A streaming writer's "unknown" size (0 or 0xFFFFFFFF) means: to the end of the file.
    unknown = whole[:40] + b"\xff\xff\xff\xff" + whole[44:]
    assert read_wav(unknown).channels[0] == pcm16(*range(100))


# -- writing ---------------------------------------------------------------------------------------


def test_written_wavs_are_16_bit_pcm_that_wave_reads() -> None:
    left, right = pcm16(1, 2, 3, -4), pcm16(-1, -2, -3, 4)
    data = write_wav([left, right], 8000)
    with wave.open(io.BytesIO(data)) as wav:
        shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes())
        assert shape == (2, 2, 8000, 4)
        assert wav.readframes(4) == pcm16(1, -1, 2, -2, 3, -3, -4, 4)
    again = read_wav(data)
    assert again.channels == (left, right)
    assert again.format_tag == WAVE_FORMAT_PCM


# -- `callscribe call` -------------------------------------------------------------------------------


def test_call_reads_g711_wavs_and_says_what_is_wrong_with_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alaw = tmp_path / "alaw.wav"
    alaw.write_bytes(
        riff(fmt(WAVE_FORMAT_ALAW, 1, 8000, 8), (b"fact", b"\x04\0\0\0"), (b"data", b"\xd5" * 4))
    )
    inbound, outbound = load_tracks(alaw)
    assert outbound is None
    assert inbound == g711.pcm16_to_ulaw(pcm16(8, 8, 8, 8))

    broken = tmp_path / "broken.wav"
    broken.write_bytes(riff(fmt(WAVE_FORMAT_MULAW, 1, 8000, 8))[:30])
    with pytest.raises(PhoneError, match=r"broken\.wav: not a WAV file this tool reads"):
        load_tracks(broken)
    assert cli.main(["call", str(broken)]) == 2
    assert "broken.wav" in capsys.readouterr().out

    stereo = tmp_path / "stereo.wav"
    stereo.write_bytes(riff(fmt(WAVE_FORMAT_MULAW, 2, 8000, 8), (b"data", b"\x9a\x1a" * 8)))
    assert cli.main(["call", str(stereo), str(alaw)]) == 2
    assert "is stereo" in " ".join(capsys.readouterr().out.split())


def test_outage_windows_are_parsed_strictly() -> None:
    assert cli.parse_window("5:12.5") == (5.0, 12.5)
    for bad in ("5", "7:3", "-1:2", "a:b"):
        with pytest.raises(ValueError, match=r"."):
            cli.parse_window(bad)
