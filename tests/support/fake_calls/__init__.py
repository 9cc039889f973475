"""In-memory fakes of the calls adapters (`shared/dal/calls/`): one per port, over one fake table.

Each fake mirrors its adapter's conditions (tests/integration/test_dal_agreement.py runs the same
scenarios on both, against moto). Fakes built over the same `FakeCallTable` share its items, the way
the tiers' adapters share one DynamoDB table.
"""
