"""The calls table (the CDR): one adapter per port of shared/dal/ports.py, over one table core.

- `core`: `CallTable` (consistent get, one conditional UpdateItem, index queries) and
  `DynamoCallReader` (`get`), the base of the adapters that read.
- `cost`: `DynamoCostWrites` (`CostWrites`), the base of every tier's adapter that stores a cost.
- `status`: `DynamoCallStatusWrites` (`CallStatusWrites`): what Twilio reports (status, recording,
  legs), the base of the webhooks' and the sweeper's adapters.
- `webhooks`, `stream`, `recordings`, `summaries`, `sweep`: each tier's adapter (the sweeper's
  shares the summaries' `DynamoSummaryFailureWrites`, the one write of `summary_status = failed`).

Nothing is imported here: a tier imports its own adapter's module only.
"""
