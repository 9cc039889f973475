"""Structured logs with the call SID on every line.

The Powertools Logger is process-wide, so per-call keys cannot be appended to it (calls interleave on
one event loop); each session holds a `CallLog` that passes its keys with every record instead.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from shared.observability import logger as _logger


class CallLog:
    __slots__ = ("_keys", "_logger")

    def __init__(self, logger: Logger | None = None, **keys: str) -> None:
        self._logger = logger or _logger
        self._keys = keys

    def bind(self, **keys: str) -> CallLog:
        return CallLog(self._logger, **{**self._keys, **keys})

    def debug(self, message: str, **fields: Any) -> None:
        self._logger.debug(message, extra={**self._keys, **fields}, stacklevel=3)

    def info(self, message: str, **fields: Any) -> None:
        self._logger.info(message, extra={**self._keys, **fields}, stacklevel=3)

    def warning(self, message: str, **fields: Any) -> None:
        self._logger.warning(message, extra={**self._keys, **fields}, stacklevel=3)

    def error(self, message: str, **fields: Any) -> None:
        self._logger.error(message, extra={**self._keys, **fields}, stacklevel=3)

    def exception(self, message: str, **fields: Any) -> None:
        self._logger.exception(message, extra={**self._keys, **fields}, stacklevel=3)
