"""The outbox: every change of a call record announced from the calls table's DynamoDB stream."""
