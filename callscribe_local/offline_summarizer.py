"""An extractive summariser behind the Messages API, for the offline demo (no language model).

It reads the transcript from the request (`<transcript>` lines `L12 [00:01:05] caller: …`, or the
`<part_summaries>` of a map-reduce), picks sentences and keywords, and fills the request's JSON
schema by property name (`messages_schema.fill`). It reports `"model": "offline-extractive"` and says
so in the summary text, so a demo record never claims to come from Claude. Evaluation questions get
keyword answers (`offline_evaluations`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from callscribe_local.anthropic_replies import RecordedRequest, Reply
from callscribe_local.messages_schema import fill
from callscribe_local.offline_evaluations import (
    Question,
    answer_questions,
    evaluation_questions,
    merge_answers,
)
from callscribe_local.offline_words import STOPWORDS, WORDS, wordset
from shared.redaction import TOKEN as REDACTION_TOKEN

OFFLINE_MODEL = "offline-extractive"

_LINE = re.compile(r"^(?:L(\d+)\s+)?\[(\d{2}):(\d{2}):(\d{2})\]\s+([\w-]+):\s*(.*)$")
_BLOCK = re.compile(r"<(transcript|part_summaries)>\s*(.*?)\s*</\1>", re.S)
_LANGUAGE_HINT = re.compile(r"language '([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)'")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")

_POSITIVE = wordset("thank thanks great perfect appreciate wonderful happy excellent awesome helpful glad")
_NEGATIVE = wordset(
    "angry frustrated terrible upset broken wrong complaint disappointed unacceptable annoyed awful worst "
    "ridiculous problem issue"
)
_INTENT_CUES = (
    "i want",
    "i'd like",
    "i would like",
    "i need",
    "calling about",
    "calling to",
    "calling because",
    "can you",
    "could you",
    "i'm trying",
    "help me",
    "i have a question",
    "wondering",
)
_ACTION_CUES = (
    "i will",
    "i'll",
    "we will",
    "we'll",
    "please send",
    "call you back",
    "call me back",
    "follow up",
    "send you",
    "email you",
    "schedule",
    "get back to you",
    "let you know",
)
_ROLES = {"caller": "caller", "callee": "callee", "agent": "agent"}


@dataclass(frozen=True)
class _Facts:
    summary: str
    evaluations: dict[str, dict[str, Any]]
    topics: list[str]
    caller_intent: str
    outcome: str
    sentiment: str
    action_items: list[dict[str, str]]
    follow_up_needed: bool
    language: str


class OfflineSummarizer:
    """An extractive summarizer behind the Messages API, for the offline demo. No language model:
    it picks sentences and keywords from the transcript and says so in the summary text."""

    model = OFFLINE_MODEL

    def __call__(self, request: RecordedRequest) -> Reply:
        schema = request.output_schema
        facts = self.facts(request.user_text, schema)
        if schema is None:
            return Reply.message(facts.summary, model=self.model)
        return Reply.json(fill(schema, facts.__dict__, schema), model=self.model)

    def facts(self, prompt: str, schema: dict[str, Any] | None = None) -> _Facts:
        questions = evaluation_questions(schema) if schema is not None else {}
        hint = _LANGUAGE_HINT.search(prompt)
        language = hint.group(1) if hint else "en"
        blocks = {m.group(1): m.group(2) for m in _BLOCK.finditer(prompt)}
        if "part_summaries" in blocks:
            merged = self._merge(blocks["part_summaries"], language, questions)
            if merged is not None:
                return merged
        text = blocks.get("transcript", prompt)
        matches = [m for m in map(_LINE.match, text.splitlines()) if m]
        lines = [
            (m.group(5), m.group(6), int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4)))
            for m in matches
        ]
        numbers = [int(m.group(1)) if m.group(1) else None for m in matches]
        if not lines:
            lines = [("unknown", line.strip(), 0) for line in text.splitlines() if line.strip()]
            numbers = [None] * len(lines)
        facts = self._extract(lines, language)
        numbered = [(n, text) for n, (_, text, _) in zip(numbers, lines, strict=True) if n is not None]
        return _Facts(**{**facts.__dict__, "evaluations": answer_questions(questions, numbered)})

    def _extract(self, lines: list[tuple[str, str, int]], language: str) -> _Facts:
        sentences = [
            (speaker, s.strip()) for speaker, text, _ in lines for s in _SENTENCE.split(text) if s.strip()
        ]
        # `[REDACTED CARD]` stands for what was removed: not a word anyone said
        words = [w.lower() for _, s in sentences for w in WORDS.findall(REDACTION_TOKEN.sub(" ", s))]
        counts = Counter(w for w in words if w not in STOPWORDS and len(w) > 3)
        topics = [w for w, _ in counts.most_common(5)]
        caller = [s for speaker, s in sentences if speaker == "caller"] or [s for _, s in sentences]
        intent = next(
            (s for s in caller if any(cue in s.lower() for cue in _INTENT_CUES)), caller[0] if caller else ""
        )
        actions = [
            {"owner": _ROLES.get(speaker, "unknown"), "description": s}
            for speaker, s in sentences
            if any(cue in s.lower() for cue in _ACTION_CUES)
        ][:5]
        scored = sorted(
            ((sum(counts[w.lower()] for w in WORDS.findall(s)), i, s) for i, (_, s) in enumerate(sentences)),
            reverse=True,
        )
        key_points = [s for _, _, s in sorted(scored[:2], key=lambda t: t[1]) if s != intent]
        duration = lines[-1][2] if lines else 0
        speakers = Counter(speaker for speaker, _, _ in lines)
        parts = [
            "Extractive summary (offline, no language model):",
            f"{len(lines)} transcript lines over {duration // 60} min {duration % 60} s "
            f"({', '.join(f'{n} from {s}' for s, n in sorted(speakers.items()))}).",
        ]
        if intent:
            parts.append(f'The caller said: "{intent}"')
        parts.extend(f'Key point: "{s}"' for s in key_points)
        if sentences and sentences[-1][1] not in (intent, *key_points):
            parts.append(f'Last words: "{sentences[-1][1]}"')
        lowered = " ".join(words)
        return _Facts(
            evaluations={},
            summary=" ".join(parts),
            topics=topics,
            caller_intent=intent or "unknown",
            outcome=_outcome(lowered, bool(actions)),
            sentiment=_sentiment(words),
            action_items=actions,
            follow_up_needed=bool(actions),
            language=language,
        )

    def _merge(self, raw: str, language: str, questions: dict[str, Question]) -> _Facts | None:
        try:
            parts = json.loads(raw)
        except json.JSONDecodeError:
            return None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            return None
        topics: list[str] = []
        actions: list[dict[str, str]] = []
        for part in parts:
            topics.extend(t for t in part.get("topics", []) if t not in topics)
            actions.extend(a for a in part.get("action_items", []) if a not in actions)
        sentiments = {p.get("sentiment") for p in parts if p.get("sentiment")}
        return _Facts(
            evaluations=merge_answers(questions, [p.get("evaluations") or {} for p in parts]),
            summary=f"Extractive summary (offline, no language model) of {len(parts)} parts: "
            + " ".join(f"Part {i}: {p.get('summary', '')}" for i, p in enumerate(parts, start=1)),
            topics=topics[:8],
            caller_intent=str(parts[0].get("caller_intent") or "unknown"),
            outcome=str(parts[-1].get("outcome") or "other"),
            sentiment=sentiments.pop() if len(sentiments) == 1 else "mixed",
            action_items=actions[:8],
            follow_up_needed=any(bool(p.get("follow_up_needed")) for p in parts),
            language=str(parts[0].get("language") or language),
        )


def _outcome(text: str, has_actions: bool) -> str:
    if "transfer" in text:
        return "transferred"
    if "voicemail" in text or "leave a message" in text:
        return "voicemail"
    if has_actions:
        return "follow_up_scheduled"
    if any(cue in text for cue in ("resolved", "all set", "that fixed", "that works", "sorted out")):
        return "resolved"
    return "unresolved"


def _sentiment(words: Iterable[str]) -> str:
    positive = negative = 0
    for word in words:
        positive += word in _POSITIVE
        negative += word in _NEGATIVE
    if positive and negative and min(positive, negative) * 2 >= max(positive, negative):
        return "mixed"
    if positive > negative:
        return "positive"
    if negative > positive:
        return "negative"
    return "neutral"
