"""The per-process wiring of the people's read API: its settings and the adapters behind its ports.

`build_services(settings)` is the factory; `services()` the production wiring, built on first use
(never at import) and shared by the warm container's invocations. Local runs and tests bind their
own with `app.create_app`; nothing global is swapped.
"""

from __future__ import annotations

from functools import cache

from functions.console_api.logic import Services
from functions.console_api.recording_links import S3RecordingLinks
from functions.console_api.settings import ConsoleApiSettings
from shared import aws
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.listing import DynamoCallList
from shared.dal.segments import DynamoSegments


def build_services(settings: ConsoleApiSettings) -> Services:
    return Services(
        settings=settings,
        calls=DynamoCallReader(settings.calls_table),
        segments=DynamoSegments(settings.transcripts_table),
        call_list=DynamoCallList(settings.calls_table),
        recordings=S3RecordingLinks(aws.s3(), settings.recordings_bucket),
    )


@cache
def services() -> Services:
    """The process's wiring, from its environment's settings (a `ConfigError` names what is wrong)."""
    return build_services(ConsoleApiSettings.from_env())


def reset() -> None:
    """Forget the wiring (tests that change the environment or restart moto)."""
    services.cache_clear()
