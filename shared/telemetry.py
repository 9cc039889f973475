"""The CloudWatch metrics namespace every tier publishes to and infra's alarms and dashboard read.

Its own module, importing nothing, so infra (at synth), the Lambdas' Powertools Metrics
(shared/observability.py) and the streamer's EMF writer (streamer/metrics.py) share the value without
importing each other's runtime.
"""

from __future__ import annotations

from typing import Final

METRICS_NAMESPACE: Final = "callscribe"
