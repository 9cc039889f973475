"""The recordings tier's outside services, as the service sees them (the tables' ports are in
`shared/dal/ports.py`: `RecordingCalls`, `RecordingSegments`).

One real adapter each (`adapters.py`: Twilio's media over HTTPS, S3, Deepgram's pre-recorded API),
each taking its client as an argument; unit tests use fakes (tests/unit/recordings/fakes.py).
Audio moves as a seekable binary file (a spooled temporary file in the Lambda), never as one bytes
object, so an hour-long recording does not have to fit in memory twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import BinaryIO, Protocol

from functions.recordings.deepgram_batch import BatchTranscript
from shared.deepgram import DeepgramOptions


class RecordingMedia(Protocol):
    """Twilio's copy of a recording (`{TWILIO_API_BASE_URL}/2010-04-01/Accounts/{AC}/Recordings/{RE}`)."""

    def download(self, recording_sid: str, sink: BinaryIO, max_bytes: int) -> int:
        """Write the recording's WAV into `sink` (from its start); its size in bytes. Raises
        RecordingNotFoundError (404), RecordingTooLargeError, RecordingRejectedError (other 4xx) or,
        after retries, RecordingUnavailableError."""
        ...

    def delete(self, recording_sid: str) -> bool:
        """Delete Twilio's copy; False when it was already gone. Raises a RecordingError on failure."""
        ...


class RecordingStore(Protocol):
    """Our copy of the recording (`RECORDINGS_BUCKET`), encrypted at rest."""

    def put(self, key: str, audio: BinaryIO, size: int, metadata: Mapping[str, str]) -> None:
        """Store `size` bytes of `audio` (read from its start) under `key`; returns once stored."""
        ...

    def get(self, key: str, sink: BinaryIO, max_bytes: int) -> int | None:
        """Write the object into `sink`; its size, or None when there is no such object."""
        ...


class BatchTranscriber(Protocol):
    """Deepgram's pre-recorded API: `POST /v1/listen` with the WAV as the body."""

    def transcribe(
        self, audio: BinaryIO, size: int, options: DeepgramOptions, timeout: Callable[[], float]
    ) -> BatchTranscript:
        """The recording's words per track. `timeout()` is each attempt's wait for the answer (it
        raises DeadlineError when the Lambda has too little time left). Raises
        TranscriptionRejectedError (4xx) or, after retries, RecordingUnavailableError;
        BatchResponseError when the answer is not a transcript."""
        ...
