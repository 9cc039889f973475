"""Local stand-ins and tooling: everything needed to run callscribe on one machine, offline.

Production code never imports this package; tests and `make demo` point production code at these
parts through configuration only (AWS_ENDPOINT_URL, DEEPGRAM_URL, ANTHROPIC_BASE_URL, ...).
"""
