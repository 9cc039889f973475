"""G.711 (mu-law and A-law) for the local tools, and 16-bit PCM samples: the one place they convert
telephone audio.

The codec is `audioop`'s (stdlib up to 3.12, the `audioop-lts` backport on 3.13+): C, the CCITT
reference algorithms, bit-exact with the streamer's own encoder (`streamer.audio.linear_to_mulaw`),
which the local side does not borrow. Linear audio is 16-bit signed little-endian PCM throughout, as
`bytes`; audioop works in the machine's byte order, so a big-endian machine swaps at this boundary.
"""

from __future__ import annotations

import sys
import warnings
from array import array

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib up to 3.12; the audioop-lts backport on 3.13+

_BIG_ENDIAN = sys.byteorder == "big"


def _swapped(pcm: bytes) -> bytes:
    """Little-endian PCM <-> the machine's order (a no-op on little-endian machines)."""
    return audioop.byteswap(pcm, 2) if _BIG_ENDIAN else pcm


def ulaw_to_pcm16(data: bytes) -> bytes:
    """mu-law bytes → 16-bit little-endian PCM (two bytes per input byte)."""
    return _swapped(audioop.ulaw2lin(data, 2))


def alaw_to_pcm16(data: bytes) -> bytes:
    """A-law bytes → 16-bit little-endian PCM."""
    return _swapped(audioop.alaw2lin(data, 2))


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """16-bit little-endian PCM → mu-law (a trailing odd byte is ignored)."""
    return audioop.lin2ulaw(_swapped(pcm[: len(pcm) - len(pcm) % 2]), 2)


def pcm16_samples(pcm: bytes) -> array[int]:
    """The samples of 16-bit little-endian PCM (a trailing odd byte is ignored)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if _BIG_ENDIAN:
        samples.byteswap()
    return samples


def samples_to_pcm16(samples: array[int]) -> bytes:
    if _BIG_ENDIAN:
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


# Each code's linear value (ITU-T G.711 expansion), for tests and tools that reason per code.
MULAW_TO_LINEAR: tuple[int, ...] = tuple(pcm16_samples(ulaw_to_pcm16(bytes(range(256)))))
ALAW_TO_LINEAR: tuple[int, ...] = tuple(pcm16_samples(alaw_to_pcm16(bytes(range(256)))))
