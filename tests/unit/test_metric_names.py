"""Metric names come only from the tiers' names modules: no emit site in the product spells one.

The names modules (`functions/<tier>/metric_names.py`, `streamer/contract.py`, the namespace and the
`service` dimension in `shared/telemetry.py`) are what infra builds its alarms and dashboard from, so
a name written out at an emit site is one a rename would leave behind. Whether what infra reads is
really emitted is tests/infra/test_metrics_emitted.py's question, answered by running the tiers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("functions", "shared", "streamer")
# The calls that name a metric or a dimension, with where the name goes: Powertools' `add_metric`,
# `single_metric` and `add_dimension`, the streamer's `incr`, and the services' `_count` wrappers.
EMIT_CALLS = frozenset({"add_metric", "single_metric", "add_dimension", "incr", "_count"})
NAMES_MODULES = (
    "functions/webhooks/metric_names.py",
    "functions/summaries/metric_names.py",
    "functions/recordings/metric_names.py",
    "functions/sweeper/metric_names.py",
    "streamer/contract.py",
    "shared/telemetry.py",
)


def _spelled_out(node: ast.expr) -> bool:
    """A string written at the call: a literal, an f-string, or either concatenated."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _spelled_out(node.left) or _spelled_out(node.right)
    return False


def _name_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "name":
            return keyword.value
    return call.args[0] if call.args else None


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def literal_emit_sites(source: str, path: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Call) and _called(node) in EMIT_CALLS:
            argument = _name_argument(node)
            if argument is not None and _spelled_out(argument):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_emit_site_spells_a_metric_or_dimension_name() -> None:
    sources = sorted(p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py"))
    assert len(sources) > 50
    found = [
        site for path in sources for site in literal_emit_sites(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "metric names written at emit sites (take them from the names module):\n" + "\n".join(
        found
    )


@pytest.mark.parametrize(
    "source",
    [
        'metrics.add_metric(name="Calls", unit="Count", value=1)',
        "self._count('Skipped')",
        'metric.add_dimension(name="reason", value=reason)',
        'self._metrics.incr(f"Frames{kind}")',
        'single_metric(name="Failures" + suffix, unit=MetricUnit.Count, value=1)',
    ],
)
def test_the_check_finds_a_spelled_out_name(source: str) -> None:
    assert literal_emit_sites(source, "example.py")


def test_the_check_lets_a_names_module_constant_through() -> None:
    source = "self._count(names.SKIPPED)\nmetrics.add_metric(name=names.CALLS, unit='Count', value=1)"
    assert literal_emit_sites(source, "example.py") == []


@pytest.mark.parametrize("path", NAMES_MODULES)
def test_a_names_module_imports_nothing_infra_cannot_load_at_synth(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else str(node.module)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "typing"}, imported
