"""The Twilio webhooks Lambda behind API Gateway (entry point: `functions.webhooks.app.handler`).

Layers: `app` (routes, thin) → `logic` (what a request means for the call; `cdr` for status
callbacks and `Call Completed` once) → the data layer's ports (`shared.dal`) and `twilio_calls`
(Twilio's REST API). `twiml` builds the answers Twilio executes; `views` the GET /calls answer.
`dependencies` wires the real adapters; `app.create_app` binds a handler to any wiring.
"""
