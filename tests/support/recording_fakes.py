"""In-memory fakes of the recordings tier's ports (functions/recordings/ports.py): Twilio's media,
the bucket and Deepgram's pre-recorded API. Each writes what it did to a shared `ops` list, so tests
can assert the order of downloads, puts, transcriptions and deletes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from functions.recordings.deepgram_batch import BatchTranscript, parse_response
from functions.recordings.errors import RecordingNotFoundError, RecordingTooLargeError
from functions.recordings.words import Word
from shared.deepgram import DeepgramOptions
from tests.support.recording_media import prerecorded_response

Ops = list[tuple[str, str]]


@dataclass
class FakeMedia:
    ops: Ops
    recordings: dict[str, bytes] = field(default_factory=dict)
    fail_download: Exception | None = None
    fail_delete: Exception | None = None

    def download(self, recording_sid: str, sink: BinaryIO, max_bytes: int) -> int:
        self.ops.append(("download", recording_sid))
        if self.fail_download is not None:
            raise self.fail_download
        if recording_sid not in self.recordings:
            raise RecordingNotFoundError(f"downloading recording {recording_sid}: HTTP 404")
        data = self.recordings[recording_sid]
        if len(data) > max_bytes:
            raise RecordingTooLargeError(f"{len(data)} bytes")
        sink.seek(0)
        sink.truncate()
        sink.write(data)
        return len(data)

    def delete(self, recording_sid: str) -> bool:
        self.ops.append(("delete", recording_sid))
        if self.fail_delete is not None:
            raise self.fail_delete
        return self.recordings.pop(recording_sid, None) is not None


@dataclass
class FakeStore:
    ops: Ops
    objects: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, Mapping[str, str]] = field(default_factory=dict)
    fail_put: Exception | None = None

    def put(self, key: str, audio: BinaryIO, size: int, metadata: Mapping[str, str]) -> None:
        self.ops.append(("put", key))
        if self.fail_put is not None:
            raise self.fail_put
        audio.seek(0)
        data = audio.read()
        assert len(data) == size
        self.objects[key] = data
        self.metadata[key] = dict(metadata)

    def get(self, key: str, sink: BinaryIO, max_bytes: int) -> int | None:
        self.ops.append(("get", key))
        data = self.objects.get(key)
        if data is None:
            return None
        sink.seek(0)
        sink.truncate()
        sink.write(data)
        return len(data)


@dataclass
class FakeTranscriber:
    """Answers with the words it was given, as Deepgram would for the audio holding them."""

    ops: Ops
    words: list[Word] = field(default_factory=list)
    channels: int = 2
    fail: Exception | None = None
    answer: Callable[[], BatchTranscript] | None = None
    asked: list[tuple[bytes, DeepgramOptions, float]] = field(default_factory=list)

    def transcribe(
        self, audio: BinaryIO, size: int, options: DeepgramOptions, timeout: Callable[[], float]
    ) -> BatchTranscript:
        self.ops.append(("transcribe", options.model))
        audio.seek(0)
        self.asked.append((audio.read(), options, timeout()))
        if self.fail is not None:
            raise self.fail
        if self.answer is not None:
            return self.answer()
        return parse_response(prerecorded_response(self.words, channels=self.channels, model=options.model))
