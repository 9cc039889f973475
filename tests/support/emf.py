"""What a tier really published: CloudWatch Embedded Metric Format documents read back from its output.

Both sinks write EMF lines to stdout (Powertools Metrics in the Lambdas, `streamer.metrics` in the
streamer), and CloudWatch turns each into one metric per (namespace, name, dimension set) it lists.
`read_emf` does the same with captured output, so a test compares what the code printed with what
an alarm or a dashboard reads, never with the constants both sides were built from.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared import observability

Dimensions = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Emitted:
    """One metric of one EMF document, as CloudWatch stores it: a value (or a list) per document."""

    namespace: str
    name: str
    dimensions: Dimensions
    values: tuple[float, ...]

    @property
    def key(self) -> tuple[str, str, Dimensions]:
        return self.namespace, self.name, self.dimensions


def read_emf(text: str) -> list[Emitted]:
    """Every metric in the EMF documents among `text`'s lines (other lines, e.g. logs, are skipped)."""
    emitted: list[Emitted] = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(doc[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    value = doc[metric["Name"]]
                    values = tuple(value) if isinstance(value, list) else (value,)
                    emitted.append(Emitted(directive["Namespace"], metric["Name"], dimensions, values))
    return emitted


@dataclass
class Capture:
    """The EMF a block printed; `emitted` is complete once the block has ended."""

    out: io.StringIO = field(default_factory=io.StringIO)
    emitted: list[Emitted] = field(default_factory=list)

    def so_far(self) -> list[Emitted]:
        return read_emf(self.out.getvalue())


@contextlib.contextmanager
def capture_stdout() -> Iterator[Capture]:
    """The EMF printed to stdout inside the block (the streamer's sink writes to `sys.stdout`)."""
    capture = Capture()
    with contextlib.redirect_stdout(capture.out):
        yield capture
    capture.emitted = capture.so_far()


@contextlib.contextmanager
def lambda_metrics(environment: Mapping[str, str]) -> Iterator[Capture]:
    """Powertools' EMF output inside the block, as a Lambda with `environment` would print it.

    The Lambda's POWERTOOLS_SERVICE_NAME is its `service` dimension. Powertools reads it when a
    metrics object is built: at import for the process's shared `metrics` (so it is set on that
    object for the block), at each `single_metric` (so the variable is set too). Whatever a
    previous test left unflushed is dropped first, and whatever the block leaves unflushed (a
    service called without its handler) is flushed at its end.
    """
    metrics = observability.metrics
    provider: Any = metrics.provider
    service = environment["POWERTOOLS_SERVICE_NAME"]
    saved_service, saved_env = provider.service, os.environ.get("POWERTOOLS_SERVICE_NAME")
    metrics.clear_metrics()
    provider.service = service
    os.environ["POWERTOOLS_SERVICE_NAME"] = service
    try:
        with capture_stdout() as capture:
            yield capture
            if metrics.metric_set:
                metrics.flush_metrics()
    finally:
        provider.service = saved_service
        if saved_env is None:
            os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
        else:
            os.environ["POWERTOOLS_SERVICE_NAME"] = saved_env
        metrics.clear_metrics()
