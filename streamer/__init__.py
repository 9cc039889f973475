"""The Fargate bridge: Twilio Media Streams in, Deepgram live STT out, final segments to DynamoDB.

See docs/streamer.md for the design (one Deepgram connection per track, replay on reconnect,
stream-time offsets, de-duplication, drain on SIGTERM).
"""
