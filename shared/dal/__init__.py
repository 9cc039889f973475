"""The data layer: the only code that talks to the product's DynamoDB tables.

- `records`: the plain records every port takes and returns (`Call`, `Recording`, `Segment`, and
  the webhooks' write inputs); no storage library behind them.
- `keys`: the keys the layer builds (segment sort keys, the sweeper's index shard).
- `ports`: one narrow Protocol per use (webhooks, streamer, summaries), see docs/architecture.md.
- `calls`, `segments`: the one adapter per table (`DynamoCalls`, `DynamoSegments`).
- `updates`: the conditional UpdateItem every write goes through (False when refused).
- `retry`: the backoff loop the streamer's writer threads share.
- `models`: the pynamodb models, the schema's source of truth (bootstrap and infra read it too).

Nothing is imported here, so `shared.dal.records` and `shared.dal.ports` stay free of pynamodb.
"""
