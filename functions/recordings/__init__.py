"""The recordings tier: the recording as a second source, so no speech is lost for good.

The Lambda (`app.py`, EventBridge `Recording Completed`) copies the recording to S3, has Deepgram's
pre-recorded API transcribe it, and stores what the live transcript missed. Its domain lives here,
pure, with no AWS or HTTP in it: `deepgram_batch` (Deepgram's response as words per track), `words`
(the word record and the normalisation both transcripts are compared in), `alignment` (recording
time to stream time), `reconcile` (what live missed, its segments and gaps, the coverage).
The algorithm: docs/recordings.md.
"""
