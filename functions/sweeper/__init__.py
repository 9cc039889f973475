"""The sweeper (issue 13): a scheduled Lambda that leaves nothing pending.

Every call enters the sparse `calls_to_sweep` index with its status writes; `SWEEP_AFTER_SECONDS`
after the call ended the sweeper reads it and either takes it out of the index (settled) or finishes
and re-drives what was lost: a transcript whose stream died, a `Transcript Completed` the summaries
never got, a `Recording Completed` never reconciled. Where the record may have missed a callback
(Twilio retries none we answered 5xx) it first asks Twilio's REST API and writes what Twilio says;
the same reads give Twilio's bill of an answered call (`cost.billed`, docs/costs.md). docs/recordings.md
("The sweeper") has the rules.

- `rules`: what a call still needs, from its record alone (pure);
- `twilio_rest`: Twilio's REST API behind a port (a call, its recordings); `twilio_view`: what
  Twilio's answer means for the record (pure); `twilio_check`: when to ask, and writing the answer;
- `service`: one run: query, claim, finish, publish, re-arm or settle (ports injected);
- `metric_names`: the metrics it emits, which infra's alarms read (imports nothing);
- `app`: the Lambda entry point.
"""
