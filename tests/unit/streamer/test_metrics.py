"""EMF documents: the names, namespace and single dimension the dashboard and autoscaling rely on."""

from __future__ import annotations

import io
import json

from streamer.metrics import StreamerMetrics

CONTRACT = {
    "ActiveCalls",
    "FramesIn",
    "FramesDropped",
    "DeepgramReconnects",
    "SegmentsWritten",
    "WriteRetries",
    "SegmentStoreLatency",
}


def test_emf_document_has_the_contract_metrics_and_resets_counters() -> None:
    metrics = StreamerMetrics("callscribe-streamer", active_calls=lambda: 7)
    metrics.incr("FramesIn", 500)
    metrics.incr("DeepgramReconnects")
    for millis in range(250):
        metrics.store_latency(float(millis))
    out = io.StringIO()
    metrics.flush(out)
    doc = json.loads(out.getvalue())
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "callscribe"
    assert directive["Dimensions"] == [["service"]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert names >= CONTRACT
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]}["SegmentStoreLatency"] == "Milliseconds"
    assert doc["service"] == "callscribe-streamer"
    assert (doc["ActiveCalls"], doc["FramesIn"], doc["DeepgramReconnects"]) == (7, 500, 1)
    assert len(doc["SegmentStoreLatency"]) == 100  # EMF's per-document limit: a uniform sample
    assert all(0 <= v < 250 for v in doc["SegmentStoreLatency"])

    again = metrics.document()
    assert again["FramesIn"] == 0
    assert "SegmentStoreLatency" not in again
    assert metrics.totals["FramesIn"] == 500
