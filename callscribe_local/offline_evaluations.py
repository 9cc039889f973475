"""Keyword answers to evaluation questions, for the offline summariser (no language model).

The questions come from the request's schema (`evaluations`: one property per question, its
`answer` typed yes/no, choice, number or text). A yes/no is "yes" when a transcript line says what
the question asks about; a choice is the one choice the lines name most; a text is the first line on
the subject; anything else (a "no", a number) is null, which the lines cannot tell without a model.
Every answer carries the numbers of the lines it matched as evidence.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from callscribe_local.offline_words import STOPWORDS, WORDS, wordset


@dataclass(frozen=True)
class Question:
    text: str  # the question as the schema describes it
    kind: str  # yes_no | choice | number | text
    choices: tuple[str, ...] = ()


# Words a question uses that mean something else in a transcript (a greeting says "hello", not "greet").
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "greet": (
        "hello",
        "hi",
        "good morning",
        "good afternoon",
        "good evening",
        "welcome",
        "thanks for calling",
        "thank you for calling",
    ),
    "thank": ("thank", "thanks", "appreciate"),
    "apolog": ("sorry", "apologise", "apologize", "apologies"),
    "name": ("my name is", "this is", "speaking"),
    "refund": ("refund", "money back", "reimburse"),
    "cancel": ("cancel", "cancellation"),
    "bill": ("bill", "billing", "invoice", "charge", "payment"),
    "appointment": ("appointment", "booking", "reschedule", "schedule"),
}
_QUESTION_STOPWORDS = STOPWORDS | wordset("agent caller callee customer person call did does was were the")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return _resolve(options[0], root) if options else schema
    return schema


def evaluation_questions(schema: dict[str, Any]) -> dict[str, Question]:
    """The evaluation questions a request's schema asks (`evaluations`: one property per question)."""
    evaluations = (schema.get("properties") or {}).get("evaluations")
    if not isinstance(evaluations, dict):
        return {}
    questions: dict[str, Question] = {}
    for question_id, prop in (_resolve(evaluations, schema).get("properties") or {}).items():
        definition = _resolve(prop, schema)
        answer = _resolve((definition.get("properties") or {}).get("answer") or {}, schema)
        text = str(definition.get("description") or question_id)
        if "enum" in answer:
            questions[question_id] = Question(text, "choice", tuple(str(c) for c in answer["enum"]))
        elif answer.get("type") == "boolean":
            questions[question_id] = Question(text, "yes_no")
        elif answer.get("type") in ("number", "integer"):
            questions[question_id] = Question(text, "number")
        else:
            questions[question_id] = Question(text, "text")
    return questions


def _cues(text: str) -> list[str]:
    """What to look for in the transcript for a question or a choice: its words, and their synonyms."""
    words = [w.lower() for w in WORDS.findall(text.replace("_", " "))]
    cues: list[str] = []
    for word in words:
        if word in _QUESTION_STOPWORDS or len(word) < 3:
            continue
        cues.append(word)
        for stem, synonyms in _SYNONYMS.items():
            if word.startswith(stem):
                cues.extend(synonyms)
    return list(dict.fromkeys(cues))


def _lines_with(cues: list[str], lines: list[tuple[int, str]]) -> list[int]:
    found: list[int] = []
    for number, text in lines:
        lowered = f" {' '.join(WORDS.findall(text.lower()))} "
        if any(f" {cue}" in lowered for cue in cues):
            found.append(number)
    return found


def answer_questions(questions: dict[str, Question], lines: list[tuple[int, str]]) -> dict[str, Any]:
    """Keyword answers: a yes/no is "yes" when a line says what the question asks about; a choice is
    the one choice the lines name most; text is the first line on the subject; anything else (a
    "no", a number) is null, as the lines cannot tell it without a model. Evidence: the matching
    lines' numbers (`L12` → 12)."""
    answers: dict[str, Any] = {}
    for question_id, question in questions.items():
        answer: Any = None
        evidence: list[int] = []
        if question.kind == "yes_no":
            evidence = _lines_with(_cues(question.text), lines)[:3]
            answer = True if evidence else None
        elif question.kind == "choice":
            hits = {c: _lines_with(_cues(c), lines) for c in question.choices}
            ranked = sorted((h for h in hits.items() if h[1]), key=lambda h: len(h[1]), reverse=True)
            if ranked and (len(ranked) == 1 or len(ranked[0][1]) > len(ranked[1][1])):
                answer, evidence = ranked[0][0], ranked[0][1][:3]
        elif question.kind == "text":
            found = _lines_with(_cues(question.text), lines)[:1]
            if found:
                answer = dict(lines)[found[0]][:200]
                evidence = found
        answers[question_id] = {"answer": answer, "evidence": evidence if answer is not None else []}
    return answers


def merge_answers(questions: dict[str, Question], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts' answers combined: a yes in any part is a yes, the choice most parts gave wins,
    the first text or number stands; evidence from the parts that gave the winning answer."""
    merged: dict[str, Any] = {}
    for question_id in questions:
        given: list[dict[str, Any]] = [
            g
            for g in (p.get(question_id) for p in parts)
            if isinstance(g, dict) and g.get("answer") is not None
        ]
        if not given:
            merged[question_id] = {"answer": None, "evidence": []}
            continue
        counts = Counter(json.dumps(g["answer"]) for g in given)
        winner = True if any(g["answer"] is True for g in given) else json.loads(counts.most_common(1)[0][0])
        evidence = [n for g in given if g["answer"] == winner for n in g.get("evidence") or []]
        merged[question_id] = {"answer": winner, "evidence": evidence[:5]}
    return merged
