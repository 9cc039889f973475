"""RIFF/WAVE read and write for the local tools: PCM, IEEE float, G.711 mu-law and A-law.

Python's `wave` reads only PCM (format tag 1), but telephone audio is often G.711 in a WAV (tag 7
mu-law, tag 6 A-law, with a `fact` chunk), and Twilio serves recordings as 16-bit PCM WAV. So the
chunks are walked here: `fmt ` (including WAVE_FORMAT_EXTENSIBLE, whose sub-format GUID carries
the real tag), `fact`, `LIST` and anything else skipped, odd-sized chunks padded to even length,
and `data`. Every channel comes out as 16-bit little-endian PCM at the file's rate; `to_phone`
makes 8 kHz mu-law tracks of it (what Twilio Media Streams carry).

Resampling uses `audioop.ratecv` (stdlib up to 3.12, the audioop-lts backport on 3.13+); G.711
goes through `callscribe_local.g711`.
"""

from __future__ import annotations

import struct
import sys
import warnings
from array import array
from dataclasses import dataclass

from callscribe_local import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib up to 3.12; the audioop-lts backport on 3.13+

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_IEEE_FLOAT = 3
WAVE_FORMAT_ALAW = 6
WAVE_FORMAT_MULAW = 7
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
FORMAT_NAMES = {
    WAVE_FORMAT_PCM: "PCM",
    WAVE_FORMAT_IEEE_FLOAT: "IEEE float",
    WAVE_FORMAT_ALAW: "A-law",
    WAVE_FORMAT_MULAW: "mu-law",
}
_UNKNOWN_SIZES = {0, 0xFFFFFFFF}  # streaming writers that never went back to fill the size in


class WavError(ValueError):
    """Not a WAV file this module can read; the message says what is wrong."""


@dataclass(frozen=True)
class WavAudio:
    """Decoded audio: one 16-bit little-endian PCM buffer per channel, all of the same length."""

    rate: int
    channels: tuple[bytes, ...]
    format_tag: int  # of the source file (PCM, mu-law, ...)
    bits_per_sample: int  # of the source file
    truncated: bool = False  # the data chunk declared more bytes than the file holds

    @property
    def frames(self) -> int:
        return len(self.channels[0]) // 2 if self.channels else 0

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0

    def mono(self) -> bytes:
        """All channels mixed to one (their mean), 16-bit PCM at `rate`."""
        if len(self.channels) == 1:
            return self.channels[0]
        share = 1 / len(self.channels)
        mixed = audioop.mul(self.channels[0], 2, share)
        for channel in self.channels[1:]:
            mixed = audioop.add(mixed, audioop.mul(channel, 2, share), 2)
        return bytes(mixed)

    def channel_at(self, index: int, rate: int) -> bytes:
        """Channel `index` as 16-bit PCM at `rate`."""
        return resample(self.channels[index], self.rate, rate)


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """16-bit mono PCM from one rate to another (audioop.ratecv: linear interpolation, filtered)."""
    if from_rate == to_rate or not pcm:
        return pcm
    converted, _ = audioop.ratecv(pcm, 2, 1, from_rate, to_rate, None)
    return bytes(converted)


def read_wav(data: bytes, *, strict: bool = True) -> WavAudio:
    """Parse a RIFF/WAVE file. `strict=False` accepts a data chunk cut short (a truncated download),
    keeping the whole frames present and marking the result `truncated`."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        kind = "RIFX (big-endian) WAV" if data[:4] == b"RIFX" else "not a RIFF/WAVE file"
        raise WavError(f"{kind}: unsupported")
    fmt: bytes | None = None
    payload: bytes | None = None
    truncated = False
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        start = offset + 8
        if chunk_id == b"data":
            available = len(data) - start
            if size in _UNKNOWN_SIZES:
                size = available
            elif size > available:
                if strict:
                    raise WavError(f"truncated: data chunk of {size} bytes, the file has {available}")
                size, truncated = available, True
            payload = data[start : start + size]
            break  # anything after the audio (LIST, id3, …) is of no interest
        if start + size > len(data):
            raise WavError(f"truncated: chunk {chunk_id!r} declares {size} bytes past the end of the file")
        if chunk_id == b"fmt ":
            fmt = data[start : start + size]
        offset = start + size + (size & 1)  # RIFF pads odd-sized chunks to an even length
    if fmt is None:
        raise WavError("no 'fmt ' chunk before the audio")
    if payload is None:
        raise WavError("no 'data' chunk")
    return _decode(fmt, payload, truncated)


def _decode(fmt: bytes, payload: bytes, truncated: bool) -> WavAudio:
    if len(fmt) < 16:
        raise WavError(f"'fmt ' chunk is {len(fmt)} bytes, at least 16 are needed")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise WavError("WAVE_FORMAT_EXTENSIBLE without its extension")
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the sub-format GUID starts with the real tag
    if channels < 1:
        raise WavError("zero channels")
    if rate < 1:
        raise WavError("zero sample rate")
    width = _sample_width(tag, bits)
    if block_align != width * channels:
        block_align = width * channels  # some writers get it wrong; the format decides
    usable = len(payload) - len(payload) % block_align
    frames = payload[:usable]
    tracks = tuple(_to_pcm16(tag, width, _deinterleave(frames, channels, width, i)) for i in range(channels))
    return WavAudio(rate, tracks, tag, bits, truncated)


def _sample_width(tag: int, bits: int) -> int:
    if tag in (WAVE_FORMAT_MULAW, WAVE_FORMAT_ALAW):
        if bits != 8:
            raise WavError(f"{FORMAT_NAMES[tag]} with {bits} bits per sample (G.711 has 8)")
        return 1
    if tag == WAVE_FORMAT_PCM:
        if bits not in (8, 16, 24, 32):
            raise WavError(f"PCM with {bits} bits per sample")
        return bits // 8
    if tag == WAVE_FORMAT_IEEE_FLOAT:
        if bits not in (32, 64):
            raise WavError(f"IEEE float with {bits} bits per sample")
        return bits // 8
    raise WavError(f"unsupported format tag {tag} (PCM, IEEE float, mu-law and A-law are read)")


def _deinterleave(frames: bytes, channels: int, width: int, index: int) -> bytes:
    if channels == 1:
        return frames
    if width == 1:
        return frames[index::channels]
    if width == 2:
        return g711.samples_to_pcm16(g711.pcm16_samples(frames)[index::channels])
    step = channels * width
    return b"".join(frames[pos : pos + width] for pos in range(index * width, len(frames), step))


def _to_pcm16(tag: int, width: int, samples: bytes) -> bytes:
    if tag == WAVE_FORMAT_MULAW:
        return g711.ulaw_to_pcm16(samples)
    if tag == WAVE_FORMAT_ALAW:
        return g711.alaw_to_pcm16(samples)
    if tag == WAVE_FORMAT_IEEE_FLOAT:
        floats = array("f" if width == 4 else "d")
        floats.frombytes(samples)
        if sys.byteorder == "big":
            floats.byteswap()
        return g711.samples_to_pcm16(array("h", (max(-32768, min(32767, round(v * 32767))) for v in floats)))
    if width == 1:  # 8-bit WAV PCM is unsigned
        return bytes(audioop.lin2lin(audioop.bias(samples, 1, -128), 1, 2))
    if width == 2:
        return samples
    return bytes(audioop.lin2lin(samples, width, 2))


def write_wav(channels: list[bytes] | tuple[bytes, ...], rate: int) -> bytes:
    """16-bit PCM WAV (format tag 1) of equal-length 16-bit PCM channels, interleaved."""
    if not channels:
        raise ValueError("a WAV needs at least one channel")
    count = len(channels)
    length = min(len(c) for c in channels) // 2 * 2
    if count == 1:
        frames = channels[0][:length]
    else:
        interleaved = array("h", bytes(length * count))
        for index, channel in enumerate(channels):
            interleaved[index::count] = g711.pcm16_samples(channel[:length])
        frames = g711.samples_to_pcm16(interleaved)
    fmt = struct.pack("<HHIIHH", WAVE_FORMAT_PCM, count, rate, rate * 2 * count, 2 * count, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(frames))
    return b"RIFF" + struct.pack("<I", len(body) + len(frames)) + body + frames


def to_phone(audio: WavAudio) -> tuple[bytes, bytes | None]:
    """A WAV's audio as Twilio would stream it: 8 kHz mu-law. Mono → (inbound, None); stereo →
    (inbound = channel 0, outbound = channel 1); more channels are refused."""
    if len(audio.channels) > 2:
        raise WavError(f"{len(audio.channels)} channels; give a mono or stereo file")
    tracks = [g711.pcm16_to_ulaw(audio.channel_at(i, 8000)) for i in range(len(audio.channels))]
    return tracks[0], (tracks[1] if len(tracks) == 2 else None)
