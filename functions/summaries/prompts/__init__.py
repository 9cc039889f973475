"""Versioned prompt templates (package data). A new wording is a new folder, never an edit in place,
so every stored summary's `prompt_version` names the exact text that produced it.

Each version folder holds `system.txt`, `single.txt` (one request), `map.txt` (one chunk of a long
call) and `reduce.txt` (combining chunk summaries), as `string.Template` texts. A version that
also holds `evaluate.txt` (v3 on) answers evaluation questions: its templates take `$questions`, its
transcript lines are numbered (`L12 [00:01:05] caller: …`) so answers can cite them, and
`evaluate.txt` asks for the answers alone (the backfill).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from shared.errors import ConfigError

TEMPLATE_NAMES = ("system", "single", "map", "reduce")
EVALUATE = "evaluate"


@dataclass(frozen=True)
class PromptSet:
    version: str
    system: str
    single: Template
    map: Template
    reduce: Template
    evaluate: Template | None = None  # None: this version does not answer evaluation questions

    @property
    def answers_questions(self) -> bool:
        return self.evaluate is not None

    def number(self, lines: list[str]) -> list[str]:
        """Transcript lines as this version shows them: `L1 …`, `L2 …` when it answers questions."""
        if not self.answers_questions:
            return lines
        return [f"L{index} {line}" for index, line in enumerate(lines, start=1)]

    def render_single(self, transcript: str, language_hint: str, questions: str = "") -> str:
        return _clean(
            self.single.substitute(transcript=transcript, language_hint=language_hint, questions=questions)
        )

    def render_map(
        self, transcript: str, language_hint: str, part: int, parts: int, questions: str = ""
    ) -> str:
        return _clean(
            self.map.substitute(
                transcript=transcript,
                language_hint=language_hint,
                part=part,
                parts=parts,
                questions=questions,
            )
        )

    def render_reduce(self, part_summaries: str, language_hint: str, parts: int, questions: str = "") -> str:
        return _clean(
            self.reduce.substitute(
                part_summaries=part_summaries, language_hint=language_hint, parts=parts, questions=questions
            )
        )

    def render_evaluate(self, transcript: str, language_hint: str, questions: str) -> str:
        if self.evaluate is None:
            raise ConfigError(f"prompt version {self.version!r} does not answer evaluation questions")
        return _clean(
            self.evaluate.substitute(transcript=transcript, language_hint=language_hint, questions=questions)
        )


def _clean(prompt: str) -> str:
    """No empty line where a template's `$questions` had nothing to list (v1/v2 texts are unchanged)."""
    return prompt.replace("\n\n<transcript>", "\n<transcript>").replace(
        "\n\n<part_summaries>", "\n<part_summaries>"
    )


@cache
def load_prompts(version: str) -> PromptSet:
    folder = resources.files(__package__).joinpath(version)
    texts: dict[str, str] = {}
    for name in TEMPLATE_NAMES:
        item = folder.joinpath(f"{name}.txt")
        if not item.is_file():
            raise ConfigError(f"prompt version {version!r} has no {name}.txt (SUMMARY_PROMPT_VERSION)")
        texts[name] = item.read_text(encoding="utf-8").strip()
    evaluate = folder.joinpath(f"{EVALUATE}.txt")
    return PromptSet(
        version=version,
        system=texts["system"],
        single=Template(texts["single"]),
        map=Template(texts["map"]),
        reduce=Template(texts["reduce"]),
        evaluate=Template(evaluate.read_text(encoding="utf-8").strip()) if evaluate.is_file() else None,
    )


def language_hint(language: str | None) -> str:
    if not language:
        return "The speech recogniser did not report the call's language."
    return f"The speech recogniser heard the call in language '{language}'."
