"""`python -m streamer`: read settings, run the server on uvloop (when installed) until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import sys


def main() -> int:
    # before the shared Logger is first imported, so every line carries the streamer's service name
    from streamer.contract import SERVICE_NAME  # imports nothing, so the Logger is still unbuilt

    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)

    from shared.errors import ConfigError
    from shared.observability import logger
    from streamer.app import serve_until_signalled
    from streamer.config import StreamerSettings

    try:
        settings = StreamerSettings.from_env()
    except ConfigError as exc:
        logger.error("invalid configuration", error=str(exc))
        return 2
    try:
        import uvloop
    except ImportError:
        uvloop_run = None
    else:
        uvloop_run = uvloop.run
    try:
        if uvloop_run is None:
            return asyncio.run(serve_until_signalled(settings))
        return uvloop_run(serve_until_signalled(settings))
    except ConfigError as exc:  # agent mode's configuration is checked as the server starts
        logger.error("invalid configuration", error=str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
