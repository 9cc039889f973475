"""The summaries Lambda: one structured Claude summary per call, from the "Transcript Completed" event."""
