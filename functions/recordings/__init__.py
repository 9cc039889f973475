"""The recordings tier (issue 13): the recording as a second source, so no speech is lost for good.

The Lambda (`app.py`, EventBridge `Recording Completed`) copies the recording to S3, has Deepgram's
pre-recorded API transcribe it, and stores what the live transcript missed. Its domain lives here,
pure and fast, with no AWS or HTTP in it:

- `deepgram_batch`: Deepgram's pre-recorded response read into words per track;
- `words`: the word record and the normalisation both transcripts are compared in;
- `alignment`: the offset from recording time to stream time (timestamps, then the shared words);
- `reconcile`: which recording words live missed, the segments and gaps they make, the coverage.

docs/recordings.md explains the algorithm; the data layer's `RecordingCalls` and `RecordingSegments`
ports (shared/dal/ports.py) are what the Lambda writes through.
"""
