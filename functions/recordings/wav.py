"""Is the downloaded file a WAV Deepgram can transcribe? Checked before it is stored or sent.

Only the RIFF structure is read (the `fmt ` and `data` chunks, seeking past any others such as
`LIST`, whatever their size), never the samples: Twilio serves 16-bit PCM, but µ-law and A-law WAVs
are just as good to Deepgram, so the format tag is checked against what Deepgram decodes, not
decoded here. A file that is not RIFF/WAVE, has no `fmt ` before its `data`, claims more data than
it holds, or holds no audio at all is an `InvalidRecordingError`: a retry would download the same
bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from functions.recordings.errors import InvalidRecordingError

# A real WAV has a handful of chunks before `data` (fmt, fact, LIST, JUNK): more is not a recording.
MAX_CHUNKS = 64
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
    """The WAV's format and audio length; `size` is the file's length in bytes. Leaves `audio` at 0.

    Chunks are walked by their headers, seeking past each body, so however large the chunks before
    `data` are (a `LIST` of tags, a `JUNK` pad), only the headers and `fmt ` are read."""
    try:
        return _walk(audio, size)
    finally:
        audio.seek(0)


def _walk(audio: BinaryIO, size: int) -> WavInfo:
    audio.seek(0)
    riff = audio.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise InvalidRecordingError(f"not a RIFF/WAVE file ({size} bytes, starts {riff[:12]!r})")
    position, fmt = 12, None
    for _ in range(MAX_CHUNKS):
        audio.seek(position)
        header = audio.read(8)
        if len(header) < 8:
            break
        chunk, declared = header[:4], int.from_bytes(header[4:], "little")
        body = position + 8
        if chunk == b"fmt ":
            fmt = _format(audio.read(min(declared, 64)), declared)
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
    else:
        raise InvalidRecordingError(f"the WAV has more than {MAX_CHUNKS} chunks before its data")
    raise InvalidRecordingError("the WAV has no data chunk")


@dataclass(frozen=True, slots=True)
class _Format:
    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    block_align: int


def _format(body: bytes, declared: int) -> _Format:
    if declared < 16 or len(body) < 16:
        raise InvalidRecordingError("the WAV's fmt chunk is cut short")
    tag, channels, rate, _byte_rate, align, bits = struct.unpack_from("<HHIIHH", body)
    if tag not in FORMATS:
        raise InvalidRecordingError(f"WAV format {tag:#06x} is not PCM, float, A-law or µ-law")
    if not 1 <= channels <= 2:
        raise InvalidRecordingError(f"a call recording has 1 or 2 channels, this WAV has {channels}")
    if rate <= 0 or align <= 0 or bits <= 0:
        raise InvalidRecordingError(f"the WAV's format is not usable ({rate} Hz, {bits} bits, align {align})")
    return _Format(tag, channels, rate, bits, align)
