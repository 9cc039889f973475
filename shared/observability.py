"""One place for the Powertools Logger, Metrics and Tracer that every tier imports.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in CDK, per container in the
task definition); the namespace is the product's. Outside Lambda the Logger still emits JSON (the
streamer's logs) and the Tracer disables itself.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "callscribe"

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
tracer = Tracer()
