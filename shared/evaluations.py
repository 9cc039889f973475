"""Evaluation questions (scorecards): what operators declare, and what an answer looks like when stored.

Questions come from configuration (`EVALUATION_QUESTIONS`, a JSON list; context
`evaluationQuestions`): a slug `id`, the `question` the model reads, a `type` and its bounds, and
optionally the `routes` it applies to. The summaries Lambda and its backfill store `evaluations`
(one map per applicable question) and `evaluations_version` (the digest of the whole set).
Must keep: an answer missing, out of range or not one of the choices is stored without `answer`,
never a guess and never a failed summary. docs/summaries.md ("Evaluation questions") has the long form.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.settings import EnvGroup
from shared.validation import decode_json

ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
OFFLINE = "offline"  # `answered_by` of answers the local extractive stand-in gave (no language model)
NOT_ASKED = "none"  # `answered_by` when no model was asked (a call without speech)
DEFAULT_TEXT_LENGTH = 200
MAX_EVIDENCE = 8  # segment keys kept per answer


class QuestionType(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    NUMBER = "number"
    TEXT = "text"


class EvaluationQuestion(BaseModel):
    """One scorecard question as configured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN, description="slug: lower-case letters, digits, underscores")
    question: str = Field(min_length=3, max_length=500)
    type: QuestionType
    choices: tuple[str, ...] | None = None  # choice: the allowed answers
    min: float | None = None  # number: inclusive bounds
    max: float | None = None
    max_length: int | None = Field(default=None, ge=1, le=2000)  # text: characters kept
    routes: tuple[str, ...] | None = None  # only calls on these routes; None: every call

    @model_validator(mode="after")
    def _fits_type(self) -> EvaluationQuestion:
        kind = self.type
        if kind is QuestionType.CHOICE:
            if not self.choices or len(self.choices) < 2:
                raise ValueError(f"question {self.id!r}: type choice needs at least two `choices`")
            if len(set(self.choices)) != len(self.choices) or any(not c.strip() for c in self.choices):
                raise ValueError(f"question {self.id!r}: `choices` must be distinct and non-empty")
        elif self.choices is not None:
            raise ValueError(f"question {self.id!r}: `choices` is only for type choice")
        if kind is QuestionType.NUMBER:
            for name, value in (("min", self.min), ("max", self.max)):
                if value is not None and not math.isfinite(value):
                    raise ValueError(f"question {self.id!r}: `{name}` must be a finite number")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"question {self.id!r}: `min` is above `max`")
        elif self.min is not None or self.max is not None:
            raise ValueError(f"question {self.id!r}: `min`/`max` are only for type number")
        if kind is not QuestionType.TEXT and self.max_length is not None:
            raise ValueError(f"question {self.id!r}: `max_length` is only for type text")
        if self.routes is not None and not self.routes:
            raise ValueError(f"question {self.id!r}: `routes` must name at least one route (or be left out)")
        return self

    @property
    def text_length(self) -> int:
        return self.max_length or DEFAULT_TEXT_LENGTH

    def applies_to(self, route: str | None) -> bool:
        return self.routes is None or (route is not None and route in self.routes)


def _parse_questions(value: object) -> object:
    """The env var holds JSON text; tests and code may pass the list itself."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return ()
        try:
            return decode_json(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON: {exc}") from exc
    return value


class EvaluationSettings(EnvGroup):
    """`EVALUATION_QUESTIONS`: a JSON list of questions (empty or unset: no evaluations)."""

    evaluation_questions: tuple[EvaluationQuestion, ...] = ()

    _parse = field_validator("evaluation_questions", mode="before")(_parse_questions)

    @field_validator("evaluation_questions")
    @classmethod
    def _distinct_ids(cls, value: tuple[EvaluationQuestion, ...]) -> tuple[EvaluationQuestion, ...]:
        counts = Counter(q.id for q in value)
        duplicates = sorted(name for name, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate question id(s): {', '.join(duplicates)}")
        return value

    @property
    def questions(self) -> tuple[EvaluationQuestion, ...]:
        return self.evaluation_questions

    @property
    def version(self) -> str | None:
        return questions_version(self.evaluation_questions)


def questions_version(questions: Sequence[EvaluationQuestion]) -> str | None:
    """A stable digest of the question set (order, wording, types, bounds, routes); None for no set.

    Any change to what is asked makes a new version, so the backfill knows which calls to answer again.
    """
    if not questions:
        return None
    canonical = json.dumps(
        [q.model_dump(mode="json", exclude_none=True) for q in questions],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "q-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def applicable(questions: Iterable[EvaluationQuestion], route: str | None) -> tuple[EvaluationQuestion, ...]:
    return tuple(q for q in questions if q.applies_to(route))


def answered_by(model: str) -> str:
    """What `answered_by` says: the model id, or `offline` for the extractive stand-in."""
    return OFFLINE if model == "offline-extractive" else model


def stored_answer(
    question: EvaluationQuestion,
    value: Any,
    evidence: Sequence[str],
    by: str,
) -> tuple[dict[str, Any], bool]:
    """The stored map of one answer, and whether the given value was refused (wrong type, out of
    range, not a choice). `value` None means the answerer could not tell: not a refusal."""
    item: dict[str, Any] = {"id": question.id, "question": question.question, "type": question.type.value}
    typed, refused = _typed(question, value)
    if typed is not None:
        item.update(typed)
        item["evidence"] = list(dict.fromkeys(evidence))[:MAX_EVIDENCE]
    else:
        item["evidence"] = []
    item["answered_by"] = by
    return item, refused


def _typed(question: EvaluationQuestion, value: Any) -> tuple[dict[str, Any] | None, bool]:
    if value is None:
        return None, False
    kind = question.type
    if kind is QuestionType.YES_NO:
        if not isinstance(value, bool):
            return None, True
        return {"answer": "yes" if value else "no", "answer_bool": value}, False
    if kind is QuestionType.CHOICE:
        if not isinstance(value, str) or value not in (question.choices or ()):
            return None, True
        return {"answer": value}, False
    if kind is QuestionType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, True
        if (question.min is not None and value < question.min) or (
            question.max is not None and value > question.max
        ):
            return None, True
        number: int | float = int(value) if float(value).is_integer() else float(value)
        return {"answer": str(number), "answer_number": number}, False
    if not isinstance(value, str):
        return None, True
    text = " ".join(value.split())[: question.text_length]
    return ({"answer": text}, False) if text else (None, False)


def no_answers(questions: Iterable[EvaluationQuestion], by: str) -> list[dict[str, Any]]:
    """Every question stored unanswered (a call without speech: nothing to judge)."""
    return [stored_answer(q, None, (), by)[0] for q in questions]
