"""The CloudWatch metrics namespace and dimension every tier publishes with and infra's alarms and
dashboard read.

Its own module, importing nothing, so infra (at synth), the Lambdas' Powertools Metrics
(shared/observability.py) and the streamer's EMF writer (streamer/metrics.py) share the values without
importing each other's runtime. A tier's metric names live in its own names module
(`functions/<tier>/metric_names.py`, `streamer/contract.py`).
"""

from __future__ import annotations

from typing import Final

METRICS_NAMESPACE: Final = "callscribe"
# The one dimension every product metric carries: the tier's POWERTOOLS_SERVICE_NAME. Powertools adds
# it under this name by itself, so the value must stay Powertools' own.
SERVICE_DIMENSION: Final = "service"
