"""Versioned prompt templates (package data). A new wording is a new folder, never an edit in place,
so every stored summary's `prompt_version` names the exact text that produced it.

Each version folder holds `system.txt`, `single.txt` (one request), `map.txt` (one chunk of a long
call) and `reduce.txt` (combining chunk summaries), as `string.Template` texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from shared.errors import ConfigError

TEMPLATE_NAMES = ("system", "single", "map", "reduce")


@dataclass(frozen=True)
class PromptSet:
    version: str
    system: str
    single: Template
    map: Template
    reduce: Template

    def render_single(self, transcript: str, language_hint: str) -> str:
        return self.single.substitute(transcript=transcript, language_hint=language_hint)

    def render_map(self, transcript: str, language_hint: str, part: int, parts: int) -> str:
        return self.map.substitute(transcript=transcript, language_hint=language_hint, part=part, parts=parts)

    def render_reduce(self, part_summaries: str, language_hint: str, parts: int) -> str:
        return self.reduce.substitute(part_summaries=part_summaries, language_hint=language_hint, parts=parts)


@cache
def load_prompts(version: str) -> PromptSet:
    folder = resources.files(__package__).joinpath(version)
    texts: dict[str, str] = {}
    for name in TEMPLATE_NAMES:
        item = folder.joinpath(f"{name}.txt")
        if not item.is_file():
            raise ConfigError(f"prompt version {version!r} has no {name}.txt (SUMMARY_PROMPT_VERSION)")
        texts[name] = item.read_text(encoding="utf-8").strip()
    return PromptSet(
        version=version,
        system=texts["system"],
        single=Template(texts["single"]),
        map=Template(texts["map"]),
        reduce=Template(texts["reduce"]),
    )


def language_hint(language: str | None) -> str:
    if not language:
        return "The speech recogniser did not report the call's language."
    return f"The speech recogniser heard the call in language '{language}'."
