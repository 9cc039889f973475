"""Agent mode: a Claude voice agent on the call, run by the call's own `CallSession`.

The session stays the one owner of the call (Twilio socket, Deepgram listen socket, segments, CDR,
`Transcript Completed`); when `start.customParameters.mode` is `agent` it also builds one
`AgentConversation`, which listens through the inbound track's transcriber events, thinks with the
Anthropic Messages API (streamed) and speaks through one Deepgram TTS socket. docs/agent.md has the
long form.
"""
