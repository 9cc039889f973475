"""Is the downloaded file a WAV Deepgram can transcribe? Checked before it is stored or sent.

Only the RIFF structure is read (the `fmt ` and `data` chunks, skipping any others such as `LIST`),
never the samples: Twilio serves 16-bit PCM, but µ-law and A-law WAVs are just as good to Deepgram,
so the format tag is checked against what Deepgram decodes, not decoded here. A file that is not
RIFF/WAVE, has no `fmt ` before its `data`, claims more data than it holds, or holds no audio at
all is an `InvalidRecordingError`: a retry would download the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from functions.recordings.errors import InvalidRecordingError

HEAD_BYTES = 64 * 1024  # the chunks before `data` (fmt, LIST, fact) are far smaller than this
PCM, IEEE_FLOAT, ALAW, MULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
FORMATS = frozenset({PCM, IEEE_FLOAT, ALAW, MULAW, EXTENSIBLE})
_UNKNOWN_SIZE = (0, 0xFFFFFFFF)  # what a streaming writer leaves in the header


@dataclass(frozen=True, slots=True)
class WavInfo:
    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    block_align: int
    data_bytes: int

    @property
    def duration_seconds(self) -> float:
        return self.data_bytes / self.block_align / self.sample_rate


def inspect_wav(audio: BinaryIO, size: int) -> WavInfo:
    """The WAV's format and audio length; `size` is the file's length in bytes. Leaves `audio` at 0."""
    audio.seek(0)
    head = audio.read(HEAD_BYTES)
    audio.seek(0)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise InvalidRecordingError(f"not a RIFF/WAVE file ({size} bytes, starts {head[:12]!r})")
    position, fmt = 12, None
    while position + 8 <= len(head):
        chunk, declared = (
            head[position : position + 4],
            int.from_bytes(head[position + 4 : position + 8], "little"),
        )
        body = position + 8
        if chunk == b"fmt ":
            fmt = _format(head, body, declared)
        elif chunk == b"data":
            if fmt is None:
                raise InvalidRecordingError("the WAV's data comes before its fmt chunk")
            available = size - body
            data = available if declared in _UNKNOWN_SIZE else declared
            if data > available:
                raise InvalidRecordingError(f"the WAV claims {declared} bytes of audio but holds {available}")
            if data < fmt.block_align:
                raise InvalidRecordingError("the WAV holds no audio")
            return WavInfo(fmt.format_tag, fmt.channels, fmt.sample_rate, fmt.bits, fmt.block_align, data)
        position = body + declared + (declared & 1)  # chunks are padded to an even length
    raise InvalidRecordingError("the WAV has no data chunk")


@dataclass(frozen=True, slots=True)
class _Format:
    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    block_align: int


def _format(head: bytes, body: int, declared: int) -> _Format:
    if declared < 16 or body + 16 > len(head):
        raise InvalidRecordingError("the WAV's fmt chunk is cut short")
    tag, channels, rate, _byte_rate, align, bits = struct.unpack_from("<HHIIHH", head, body)
    if tag not in FORMATS:
        raise InvalidRecordingError(f"WAV format {tag:#06x} is not PCM, float, A-law or µ-law")
    if not 1 <= channels <= 2:
        raise InvalidRecordingError(f"a call recording has 1 or 2 channels, this WAV has {channels}")
    if rate <= 0 or align <= 0 or bits <= 0:
        raise InvalidRecordingError(f"the WAV's format is not usable ({rate} Hz, {bits} bits, align {align})")
    return _Format(tag, channels, rate, bits, align)
