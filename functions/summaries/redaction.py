"""The summaries' two redaction passes (`SUMMARY_REDACTION`), with the engine every tier uses
(shared/redaction.py): the transcript before the model reads it, and what the model wrote before it
is stored (the summary's text fields and the evaluation answers).

The first pass reads each speaker's lines as one stream, in time order, as the streamer reads a
track, so a card the stored segments still hold in clear (a call stored with `TRANSCRIPT_REDACTION`
off, or before this engine) is found however it was split. The second pass is the backstop for what
the model writes itself: a number it pieced together, or one a prompt trick made it repeat. Both
count into one `Redactor`, whose counts the summary's `redaction` report stores (never the values).

Must keep: nothing the model wrote is stored without the second pass when redaction is on; answers
keep their shape (an answer that was a number stays a number, or becomes no answer).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from functions.summaries.summary import ActionItem, CallSummary, RedactionReport
from functions.summaries.transcript import Transcript
from shared.redaction import Redactor


def redact_transcript(transcript: Transcript, *, enabled: bool) -> tuple[list[str], Redactor | None]:
    """The lines the model may read, and the redactor that took out what they held (None: off)."""
    if not enabled:
        return [line.render() for line in transcript.lines], None
    redactor = Redactor()
    lines = transcript.lines
    texts = redactor.redact_lines(
        [line.speaker for line in lines], [line.text for line in lines], [line.start for line in lines]
    )
    return [replace(line, text=text).render() for line, text in zip(lines, texts, strict=True)], redactor


def redact_summary(summary: CallSummary, redactor: Redactor) -> CallSummary:
    """The model's summary with every text field redacted, each field on its own."""
    changes: dict[str, Any] = {
        "summary": redactor.redact(summary.summary),
        "topics": [redactor.redact(topic) for topic in summary.topics],
        "caller_intent": redactor.redact(summary.caller_intent),
        "action_items": [
            ActionItem(owner=item.owner, description=redactor.redact(item.description))
            for item in summary.action_items
        ],
    }
    return summary.model_copy(update=changes)


def redact_answers(answers: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """The model's raw evaluation answers (`{id: {"answer": …, "evidence": […]}}`) with text answers
    redacted; a number answer whose digits would be redacted becomes no answer (null)."""
    out: dict[str, Any] = {}
    for question, entry in answers.items():
        answer = entry.get("answer") if isinstance(entry, dict) else None
        if isinstance(answer, str):
            entry = {**entry, "answer": redactor.redact(answer)}
        elif isinstance(answer, (int, float)) and not isinstance(answer, bool) and float(answer).is_integer():
            digits = str(abs(int(answer)))
            if redactor.redact(digits) != digits:
                entry = {**entry, "answer": None}
        out[question] = entry
    return out


def report(redactor: Redactor | None) -> RedactionReport:
    """What the passes replaced, per kind (counts only): the summary's `redaction` field."""
    if redactor is None:
        return RedactionReport(enabled=False)
    counts = dict(redactor.counts)
    return RedactionReport(enabled=True, applied=bool(counts), counts=counts)
