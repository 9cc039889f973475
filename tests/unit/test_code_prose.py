"""The code says what it is, not how it came to be: no issue numbers in the product's code, and a
module docstring short enough to read (what the module is for and what a change must keep; the
rationale lives in docs/). A long module says why it is long."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("shared", "streamer", "functions", "infra", "callscribe_local", "bench", "scripts", "console/js")
MAX_DOCSTRING_LINES = 12
LONG_MODULE_LINES = 350
ISSUE_TAG = re.compile(r"\bissues? #?\d+\b", re.IGNORECASE)


def _files(*suffixes: str) -> list[Path]:
    return sorted(
        path
        for top in PRODUCT
        for path in (ROOT / top).rglob("*")
        if path.suffix in suffixes and "node_modules" not in path.parts
    )


def _python_modules() -> list[Path]:
    return [path for path in _files(".py") if path.parts[len(ROOT.parts)] != "bench"]


def test_no_history_tags_in_the_product_code() -> None:
    tagged = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _files(".py", ".js", ".sh")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ISSUE_TAG.search(line)
    ]
    assert not tagged, "history belongs in git:\n" + "\n".join(tagged)


@pytest.mark.parametrize("path", _python_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_docstring_is_a_few_lines_and_a_long_module_says_why(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False) or ""
    assert len(docstring.splitlines()) <= MAX_DOCSTRING_LINES, "rationale goes in docs/"
    if source.count("\n") > LONG_MODULE_LINES:
        assert re.search(r"\b(long|lines)\b", docstring, re.IGNORECASE), "say why the module is this long"
