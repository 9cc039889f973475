"""Evaluation questions in the summary request: the answer schema built from the questions, the
questions as the prompt lists them, and the model's answers turned into stored maps.

The schema is built per call from the questions that apply to its route: `evaluations` is an object
with one property per question id, each `{answer, evidence}` where `answer` is typed by the question
(yes_no a boolean, choice an enum of its choices, number a number with its bounds, text a string)
or null when the transcript cannot tell, and `evidence` the numbers of the transcript lines (`L12`)
that support it. The schema is strict for the model (every property required); parsing is lenient
(a number out of range or an unknown choice parses), so the declared types are checked here and a
stray answer is stored as no answer and counted, never a failed summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from functions.summaries.summary import CallSummary
from shared.evaluations import EvaluationQuestion, QuestionType, stored_answer

EVIDENCE_DESCRIPTION = (
    "Numbers of the transcript lines (the n of Ln) that support the answer, at most five; "
    "empty when answer is null."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _answer_type(question: EvaluationQuestion) -> Any:
    """The parsed type (lenient) with the JSON schema the model is held to (strict)."""
    kind = question.type
    if kind is QuestionType.YES_NO:
        return bool
    if kind is QuestionType.CHOICE:
        return Annotated[str, WithJsonSchema({"type": "string", "enum": list(question.choices or ())})]
    if kind is QuestionType.NUMBER:
        schema: dict[str, Any] = {"type": "number"}
        if question.min is not None:
            schema["minimum"] = question.min
        if question.max is not None:
            schema["maximum"] = question.max
        return Annotated[float, WithJsonSchema(schema)]
    return Annotated[str, WithJsonSchema({"type": "string", "maxLength": question.text_length})]


def _answer_description(question: EvaluationQuestion) -> str:
    kind = question.type
    if kind is QuestionType.YES_NO:
        what = "true for yes, false for no"
    elif kind is QuestionType.CHOICE:
        what = "one of: " + ", ".join(question.choices or ())
    elif kind is QuestionType.NUMBER:
        bounds = [
            f"at least {question.min:g}" if question.min is not None else "",
            f"at most {question.max:g}" if question.max is not None else "",
        ]
        what = "a number" + (" " + " and ".join(b for b in bounds if b) if any(bounds) else "")
    else:
        what = f"a short text of at most {question.text_length} characters"
    return f"{what}; null when the transcript does not tell"


@cache
def output_model(questions: tuple[EvaluationQuestion, ...]) -> type[CallSummary]:
    """`CallSummary` plus `evaluations` answering `questions` (plain `CallSummary` for none)."""
    if not questions:
        return CallSummary
    fields: dict[str, Any] = {}
    required: list[str] = []
    for index, question in enumerate(questions):
        answer = create_model(
            f"Evaluation_{question.id}",
            __base__=_Strict,
            __doc__=f"{question.question} ({question.type.value})",
            answer=(
                _answer_type(question) | None,
                Field(default=None, description=_answer_description(question)),
            ),
            evidence=(list[int], Field(default_factory=list, description=EVIDENCE_DESCRIPTION)),
        )
        answer.model_config["json_schema_extra"] = {"required": ["answer", "evidence"]}
        answer.model_rebuild(force=True)
        fields[f"q{index}"] = (answer | None, Field(default=None, alias=question.id))
        required.append(question.id)
    answers = create_model(
        "Evaluations",
        __base__=_Strict,
        __doc__="Answers to the evaluation questions, one property per question id.",
        **fields,
    )
    answers.model_config["json_schema_extra"] = {"required": list[Any](required)}
    answers.model_rebuild(force=True)
    model: type[CallSummary] = create_model(
        "CallSummary",
        __base__=CallSummary,
        __doc__=CallSummary.__doc__,
        evaluations=(answers, Field(description="Answers to the evaluation questions listed in the prompt.")),
    )
    return model


@cache
def evaluations_only_model(questions: tuple[EvaluationQuestion, ...]) -> type[BaseModel]:
    """Just `evaluations` answering `questions` (the backfill: the summary is stored already)."""
    full = output_model(questions)
    answers: Any = full.model_fields["evaluations"].annotation
    model: type[BaseModel] = create_model(
        "CallEvaluations",
        __base__=_Strict,
        __doc__="Answers to the evaluation questions of one phone call.",
        evaluations=(answers, Field(description="Answers to the evaluation questions listed in the prompt.")),
    )
    return model


def render_questions(questions: Sequence[EvaluationQuestion]) -> str:
    """The questions as the prompt lists them (empty text when there are none)."""
    if not questions:
        return ""
    lines = ["<evaluation_questions>"]
    for question in questions:
        lines.append(f"- {question.id} ({_answer_description(question)}): {question.question}")
    lines.append("</evaluation_questions>")
    return "\n".join(lines)


def base_summary(value: CallSummary) -> CallSummary:
    """The summary fields alone (the answer model adds `evaluations`)."""
    return CallSummary.model_validate({name: getattr(value, name) for name in CallSummary.model_fields})


def raw_answers(value: BaseModel) -> dict[str, Any]:
    """`{question id: {"answer": …, "evidence": [...]}}` from a parsed answer model (empty without)."""
    evaluations = getattr(value, "evaluations", None)
    if evaluations is None:
        return {}
    dumped: dict[str, Any] = evaluations.model_dump(mode="json", by_alias=True)
    return {k: v for k, v in dumped.items() if isinstance(v, dict)}


@dataclass(frozen=True)
class StoredAnswers:
    answers: list[dict[str, Any]]
    refused: int  # answers that broke their question's type or bounds (stored as no answer)
    answered: int


def store_answers(
    questions: Sequence[EvaluationQuestion],
    raw: dict[str, Any],
    line_keys: Sequence[str],
    by: str,
) -> StoredAnswers:
    """Stored maps for `questions` from the model's raw answers; line numbers (1-based, as `Ln` in
    the prompt) become the segment keys of those lines, numbers outside the transcript are dropped."""
    answers: list[dict[str, Any]] = []
    refused = answered = 0
    for question in questions:
        entry = raw.get(question.id) or {}
        evidence = []
        for number in entry.get("evidence") or ():
            if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= len(line_keys):
                evidence.append(line_keys[number - 1])
        item, bad = stored_answer(question, entry.get("answer"), evidence, by)
        refused += bad
        answered += "answer" in item
        answers.append(item)
    return StoredAnswers(answers=answers, refused=refused, answered=answered)
