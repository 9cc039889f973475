"""Domain code shared by the webhooks Lambda, the summaries Lambda and the streamer.

Nothing here reads the environment or creates a client at import time: Lambda cold starts and
tests that start moto first both depend on that.
"""
