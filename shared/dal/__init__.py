"""The data layer: the only code that talks to the product's DynamoDB tables.

- `records`: the plain records every port takes and returns (`Call`, `Recording`, `Segment`, and
  the write inputs); no storage library behind them.
- `keys`: the keys the layer builds (segment sort keys, the sweeper's index shard).
- `ports`: one narrow Protocol per use, see docs/architecture.md ("Data layer").
- `calls/`: one adapter per calls-table port over one table core; `segments`: `DynamoSegments`.
- `updates`: the conditional UpdateItem every write goes through (False when refused).
- `retry`: the backoff loop the streamer's writer threads share.
- `tables`: the pynamodb models, the schema's source of truth (bootstrap, infra, analytics read it).

Nothing is imported here, so `records`, `keys` and `ports` stay free of pynamodb.
"""
