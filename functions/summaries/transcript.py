"""The transcript the model reads: one line per final segment, in stream time, with the speaker's role.

    [00:01:05] caller: I'd like to move my appointment to Friday.

What a change must keep: times are stream time (the seconds GET /calls reports); each line names
one of `ROLES`, never the free-text speaker label; a segment is one line (whitespace collapsed) and
no transcript text can open or close a tag: `render` escapes `&`, `<`, `>` and their look-alikes as
XML entities and drops Unicode tag characters. Text is escaped only when rendered, never stored so.
Why: docs/summaries.md, "Prompts".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

ROLES = ("caller", "callee", "agent", "unknown")
UNKNOWN = "unknown"

# Characters a model reads as angle brackets, though they are not `<`/`>`: fullwidth and small forms,
# guillemets, the CJK, technical and mathematical angle brackets, ornaments, modifier arrowheads, the
# vertical presentation forms and the Canadian syllabics that look like them (confusables of < and >).
LEFT_LOOKALIKES = (
    "\uff1c\ufe64\u2039\u00ab\u3008\u300a\u2329\u27e8\u27ea\u276c\u276e\u2770\u29fc\u02c2\u1438\ufe3f"
)
RIGHT_LOOKALIKES = (
    "\uff1e\ufe65\u203a\u00bb\u3009\u300b\u232a\u27e9\u27eb\u276d\u276f\u2771\u29fd\u02c3\u1433\ufe40"
)
# Unicode tag characters (U+E0000-E007F) are invisible, yet a model reads U+E003C as "<" and a run of
# them as hidden text: no transcript holds them legitimately, so they are dropped.
TAG_CHARACTERS = range(0xE0000, 0xE0080)
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        **dict.fromkeys(LEFT_LOOKALIKES, "&lt;"),
        **dict.fromkeys(RIGHT_LOOKALIKES, "&gt;"),
        **dict.fromkeys(map(chr, TAG_CHARACTERS), None),
    }
)


def neutralise(text: str) -> str:
    """Transcript text as the model may see it: no character of it can make or end a tag."""
    return text.translate(_ESCAPES)


def role(speaker: str | None) -> str:
    """One of `ROLES`: a label outside the set (say `SYSTEM`) is not repeated to the model."""
    label = (speaker or "").strip().lower()
    return label if label in ROLES else UNKNOWN


class SegmentLike(Protocol):
    """What transcript building needs of a stored segment (shared.dal.records.Segment has it)."""

    @property
    def speaker(self) -> str: ...
    @property
    def track(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def language(self) -> str | None: ...
    @property
    def segment_key(self) -> str: ...


@dataclass(frozen=True)
class TranscriptLine:
    start: float
    speaker: str
    text: str
    key: str = ""  # the segment's key: what an evaluation answer cites as evidence

    def render(self) -> str:
        return f"[{clock(self.start)}] {role(self.speaker)}: {neutralise(self.text)}"


@dataclass(frozen=True)
class Transcript:
    lines: tuple[TranscriptLine, ...]
    language: str | None  # the language most segments were recognised in, when the STT said

    @property
    def has_speech(self) -> bool:
        return bool(self.lines)

    @property
    def speakers(self) -> list[str]:
        return sorted({line.speaker for line in self.lines})

    def render(self) -> str:
        return "\n".join(line.render() for line in self.lines)

    @property
    def keys(self) -> tuple[str, ...]:
        """Segment keys by line (line n of the prompt, `Ln`, is `keys[n - 1]`)."""
        return tuple(line.key for line in self.lines)


def clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def build_transcript(segments: Iterable[SegmentLike]) -> Transcript:
    lines: list[TranscriptLine] = []
    languages: Counter[str] = Counter()
    for segment in sorted(segments, key=lambda s: (float(s.start), s.track)):
        text = " ".join(segment.text.split())
        if not text:
            continue
        lines.append(
            TranscriptLine(
                start=float(segment.start), speaker=role(segment.speaker), text=text, key=segment.segment_key
            )
        )
        if segment.language:
            languages[segment.language] += 1
    language = languages.most_common(1)[0][0] if languages else None
    return Transcript(lines=tuple(lines), language=language)
