"""The Twilio webhooks Lambda behind API Gateway (entry point: `functions.webhooks.app.handler`).

Layers: `app` (routes, thin) → `logic` (what a request means for the call) → `shared.cdr` (the call
record) and `twilio_calls` (Twilio's REST API). `twiml` builds the answers Twilio executes.
"""
