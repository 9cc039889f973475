"""One place for the Powertools Logger, Metrics and Tracer that every tier imports.

The service name comes from POWERTOOLS_SERVICE_NAME; the namespace is the product's. Outside Lambda
the Logger still emits JSON (the streamer's logs), and every line is masked (`shared.log_privacy`).
`tracer` is built on first use: Powertools' real `Tracer` only when it would trace
(`tracing_enabled`), else `DisabledTracer` (same interface, nothing that imports `aws_xray_sdk`).
Must keep: the stand-in is chosen exactly when Powertools' Tracer would not record, so no trace is
ever dropped. Why (the X-Ray SDK's import cost): docs/deploy.md, "Tracing and cold starts", and
docs/benchmarks.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from shared.log_privacy import MaskingFormatter
from shared.telemetry import METRICS_NAMESPACE

if TYPE_CHECKING:
    import numbers
    import traceback

    from aws_lambda_powertools.utilities.typing import LambdaContext

    tracer: Tracer

LambdaHandler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]

# Patched when the real Tracer is built: the AWS calls (DynamoDB, EventBridge, Secrets Manager).
# Powertools' default is every library the X-Ray SDK supports, which imports `requests` (much of
# Twilio's REST stack) at init for nothing: Twilio's client sends with `Session.send`, which the
# SDK's requests patch does not trace (it wraps `Session.request`), and anthropic uses httpx2.
TRACED_AT_INIT = ("botocore",)

logger = Logger(logger_formatter=MaskingFormatter())  # phone numbers: last four digits only
metrics = Metrics(namespace=METRICS_NAMESPACE)

_F = TypeVar("_F", bound=Callable[..., Any])


def tracing_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether Powertools' Tracer would record anything in this environment.

    The same rule as `Tracer._is_tracer_disabled` (a unit test keeps the two in step): off when
    POWERTOOLS_TRACE_DISABLED is true, and off outside Lambda (no LAMBDA_TASK_ROOT) or under the SAM
    CLI / Chalice local emulators, where no X-Ray daemon listens.
    """
    env = os.environ if env is None else env
    if resolve_truthy_env_var_choice(env=env.get(constants.TRACER_DISABLED_ENV, "false")):
        return False
    in_lambda = bool(env.get(constants.LAMBDA_TASK_ROOT_ENV))
    emulated = bool(env.get(constants.SAM_LOCAL_ENV) or env.get(constants.CHALICE_LOCAL_ENV))
    return in_lambda and not emulated


class _UnrecordedSegment(BaseSegment):
    """What `provider.in_subsegment` yields when nothing is recorded: accepts everything, keeps nothing."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None:
        return None


class _UnrecordedProvider(BaseProvider):
    """Stands in for the X-Ray recorder, so code using `tracer.provider` directly needs no branch."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _UnrecordedSegment()

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[BaseSegment, None]:
        yield _UnrecordedSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


class DisabledTracer(Tracer):
    """Powertools' Tracer interface with tracing off, without importing the X-Ray SDK.

    `Tracer.__init__` is deliberately not called: it imports `aws_xray_sdk` even when disabled, and
    it writes its provider into configuration shared by every Tracer in the process. The inherited
    methods all return early on `disabled`; the decorators are overridden to return the function
    itself, so a traced route costs nothing per call when tracing is off.
    """

    def __init__(self, service: str | None = None) -> None:
        self.provider = _UnrecordedProvider()
        self.disabled = True
        self.service = service or os.environ.get(constants.SERVICE_NAME_ENV, "")
        self.auto_patch = False

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        if lambda_handler is None:
            return _unchanged
        return lambda_handler

    @overload
    def capture_method(self, method: _F) -> _F: ...

    @overload
    def capture_method(
        self, method: None = None, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Callable[[_F], _F]: ...

    def capture_method(
        self,
        method: Any = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        if method is None:
            return _unchanged
        return method


def _unchanged(function: _F) -> _F:
    return function


@cache
def _tracer() -> Tracer:
    if not tracing_enabled():
        return DisabledTracer()
    return Tracer(patch_modules=TRACED_AT_INIT)


def lambda_entry(correlation_id_path: str | None = None) -> Callable[[LambdaHandler], LambdaHandler]:
    """How every tier's Lambda entry point is wrapped: each log line carries the invocation's context
    (and `correlation_id_path`'s id; keys a previous invocation appended are cleared), the invocation
    is traced when tracing is on, and its metrics are flushed as one EMF document when it returns."""

    def wrap(handler: LambdaHandler) -> LambdaHandler:
        traced = _tracer().capture_lambda_handler(metrics.log_metrics(handler))
        wrapped: LambdaHandler = logger.inject_lambda_context(
            correlation_id_path=correlation_id_path, clear_state=True
        )(traced)
        return wrapped

    return wrap


def __getattr__(name: str) -> object:
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
