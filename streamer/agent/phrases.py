"""What the agent says without the model: every scripted phrase, in one place to review.

A change here changes what callers hear on every agent call, like a prompt change; tests compare the
TTS input against these constants.
"""

from __future__ import annotations

SILENCE_PROMPT = "Are you still there?"
SILENCE_GOODBYE = "I haven't heard anything for a while, so I'll end the call now. Goodbye!"
MAX_CALL_GOODBYE = "I'm sorry, we've reached the time limit for this call. Thank you for calling, goodbye!"
APOLOGY_TRANSFER = (
    "I'm sorry, I'm having trouble right now. Would you like me to transfer you to someone who can help?"
)
APOLOGY_NO_TRANSFER = "I'm sorry, I'm having trouble right now. Could you say that again?"
FAILURE_TRANSFER = "I'm sorry about that. Let me transfer you to someone who can help."
FAILURE_GOODBYE = "I'm sorry, I can't help right now. Please call back a little later. Goodbye!"
