"""One place for the Powertools Logger, Metrics and Tracer that every tier imports.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in CDK, per container in the
task definition); the namespace is the product's. Outside Lambda the Logger still emits JSON (the
streamer's logs). Every line is written with phone numbers masked (`shared.log_privacy`).

The Tracer is built on first use, not at import: building it imports the X-Ray SDK (~200 ms), which
the Lambdas want (they import `tracer` for their decorators) and the streamer never uses.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

from shared.log_privacy import MaskingFormatter
from shared.telemetry import METRICS_NAMESPACE

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

    tracer: Tracer

logger = Logger(logger_formatter=MaskingFormatter())  # phone numbers: last four digits only
metrics = Metrics(namespace=METRICS_NAMESPACE)


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()


def __getattr__(name: str) -> object:
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
