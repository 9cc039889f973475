"""G.711 (mu-law and A-law) by lookup table: the one place the local tools convert telephone audio.

Why tables: `audioop` is deprecated and gone from Python 3.13 (the project only keeps the
`audioop-lts` backport for resampling), and a 256-entry table decodes exactly and fast enough
(~10 ms per second of stereo audio here). The mu-law encoder is the product's own
(`streamer.agent.dtmf.linear_to_mulaw`, the CCITT reference algorithm, bit-exact with
`audioop.lin2ulaw`), tabulated once over its 14-bit input.

Linear audio is 16-bit signed little-endian PCM throughout, as `bytes`.
"""

from __future__ import annotations

import sys
from array import array
from functools import cache

from streamer.agent.dtmf import linear_to_mulaw

MULAW_SILENCE = 0xFF


def _mulaw_to_linear(byte: int) -> int:
    """ITU-T G.711 mu-law expansion (the inverse of the reference compressor)."""
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if sign else magnitude


def _alaw_to_linear(byte: int) -> int:
    """ITU-T G.711 A-law expansion (even bits inverted on the wire)."""
    byte ^= 0x55
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if sign else -magnitude


MULAW_TO_LINEAR: tuple[int, ...] = tuple(_mulaw_to_linear(b) for b in range(256))
ALAW_TO_LINEAR: tuple[int, ...] = tuple(_alaw_to_linear(b) for b in range(256))
_MULAW_PCM = tuple(v.to_bytes(2, "little", signed=True) for v in MULAW_TO_LINEAR)
_ALAW_PCM = tuple(v.to_bytes(2, "little", signed=True) for v in ALAW_TO_LINEAR)


def ulaw_to_pcm16(data: bytes) -> bytes:
    """mu-law bytes → 16-bit little-endian PCM (two bytes per input byte)."""
    return b"".join(map(_MULAW_PCM.__getitem__, data))


def alaw_to_pcm16(data: bytes) -> bytes:
    """A-law bytes → 16-bit little-endian PCM."""
    return b"".join(map(_ALAW_PCM.__getitem__, data))


@cache
def _mulaw_encoder() -> bytes:
    # index = 14-bit sample (sample >> 2) + 8192; the reference compressor only looks at those bits
    return bytes(linear_to_mulaw(value << 2) for value in range(-8192, 8192))


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """16-bit little-endian PCM → mu-law (bit-exact with audioop.lin2ulaw)."""
    samples = pcm16_samples(pcm)
    table = _mulaw_encoder()
    return bytes(table[(s >> 2) + 8192] for s in samples)


def pcm16_samples(pcm: bytes) -> array[int]:
    """The samples of 16-bit little-endian PCM (a trailing odd byte is ignored)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def samples_to_pcm16(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()
