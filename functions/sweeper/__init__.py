"""The sweeper: a scheduled Lambda that leaves nothing pending.

`SWEEP_AFTER_SECONDS` after a call ended it reads the call from the sparse `calls_to_sweep` index and
either settles it (out of the index) or finishes and re-drives what was lost; where the record may
have missed a callback it first writes what Twilio's REST API says. docs/recordings.md, "The
sweeper", has the rules.

- `rules`: what a call still needs, from its record alone (pure);
- `twilio_rest`: Twilio's REST API behind a port; `twilio_view`: what its answer means for the
  record (pure); `twilio_check`: when to ask, and writing the answer;
- `service`: one run; `metric_names`: the names infra's alarms read; `app`: the entry point.
"""
