"""Where an inbound call goes: the `CALL_ROUTES` configuration (docs/configuration.md, "Routing").

`CALL_ROUTES` is JSON: keys are called numbers in E.164 or `"*"`, values one of `forwardTo`,
`voicemail`, `agent` or `listen` (its URL allowed by shared/listen.py), each optionally with
`language`, `model` and `record`; the key `"outbound"` holds those three for calls placed with
POST /calls. Must keep: unset or empty means voicemail for every number (a fresh deployment answers
safely); the configuration is parsed once per process, and a bad one fails at start with a message
naming the offending key, never at a call and never by falling back to voicemail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from shared.errors import ConfigError
from shared.listen import url_problem
from shared.patterns import E164_PATTERN, STT_NAME_PATTERN
from shared.validation import decode_json, describe_errors

_E164 = re.compile(E164_PATTERN)
DEFAULT_KEY = "*"
OUTBOUND_KEY = "outbound"  # the defaults of calls placed with POST /calls


def is_e164(value: str) -> bool:
    return bool(_E164.fullmatch(value))


def _check_e164(value: str) -> str:
    if not is_e164(value):
        raise ValueError(f"{value!r} is not an E.164 number (+ and 7 to 15 digits, the first not 0)")
    return value


E164 = Annotated[str, AfterValidator(_check_e164)]


class _RouteModel(BaseModel):
    """`defer_build`: a route model's validator is built when a configuration first uses that kind,
    so a process pays only for the kinds it has (and nothing at import)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)


class _CallRoute(_RouteModel):
    """What every route also says about its calls: the language and model Deepgram transcribes them
    with (None: the deployment's default), and whether the call is recorded."""

    language: str | None = Field(default=None, pattern=STT_NAME_PATTERN)
    model: str | None = Field(default=None, pattern=STT_NAME_PATTERN)
    record: bool = True

    @property
    def transcription_language(self) -> str | None:
        return self.language


class ForwardRoute(_CallRoute):
    kind: Literal["forward"] = Field(default="forward", exclude=True)
    forward_to: E164 = Field(alias="forwardTo")


class VoicemailRoute(_CallRoute):
    kind: Literal["voicemail"] = Field(default="voicemail", exclude=True)
    voicemail: Literal[True] = True


BUILTIN_AGENT_TOOLS = frozenset({"end_call", "transfer_call", "send_dtmf"})


class HttpTool(_RouteModel):
    """A business's own HTTP endpoint the agent may call (docs/agent.md, "HTTP tools")."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = Field(min_length=1)
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}, alias="inputSchema"
    )
    url: str = Field(pattern=r"^https?://")
    timeout_seconds: float = Field(default=5.0, gt=0, le=30, alias="timeoutSeconds")


class AgentConfig(_RouteModel):
    """The voice agent's settings; the streamer reads them. Defaults make a working receptionist."""

    greeting: str = "Hello, thanks for calling. How can I help you today?"
    instructions: str = (
        "You are a friendly, concise phone receptionist. Answer questions briefly, take a message "
        "when you cannot help, and offer to transfer the caller when they ask for a person."
    )
    voice: str = "aura-2-thalia-en"
    language: str = "en"
    transfer_to: E164 | None = Field(default=None, alias="transferTo")
    tools: tuple[HttpTool, ...] = ()

    @model_validator(mode="after")
    def _tool_names(self) -> AgentConfig:
        names = [t.name for t in self.tools]
        clash = sorted(set(names) & BUILTIN_AGENT_TOOLS)
        if clash:
            raise ValueError(f"agent tools may not reuse the built-in names {clash}")
        if len(set(names)) != len(names):
            raise ValueError("agent tool names must be unique")
        return self


class AgentRoute(_CallRoute):
    kind: Literal["agent"] = Field(default="agent", exclude=True)
    agent: AgentConfig = Field(default_factory=AgentConfig)

    @property
    def transcription_language(self) -> str | None:
        """The route's `language`, else the agent's: the agent speaks it, so the caller is heard in it."""
        return self.language or self.agent.language


def _check_twiml_url(value: str) -> str:
    problem = url_problem(value, loopback_http=True)  # the allow-list check says more (settings, synth)
    if problem is not None:
        raise ValueError(problem)
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class ListenTarget(_RouteModel):
    """Where a listen route hands the call once the stream (and recording) runs: the team's own TwiML
    URL, fetched by Twilio with `method` as a normal signed Twilio request."""

    twiml_url: Annotated[str, AfterValidator(_check_twiml_url)] = Field(alias="twimlUrl")
    method: Annotated[Literal["POST", "GET"], BeforeValidator(_upper)] = "POST"


class ListenRoute(_CallRoute):
    """Listen in on a call flow that stays the team's: stream both tracks, record (unless `record`
    is false), then `<Redirect>` to `listen.twimlUrl`."""

    kind: Literal["listen"] = Field(default="listen", exclude=True)
    listen: ListenTarget


class OutboundRoute(_CallRoute):
    """Calls placed with POST /calls (`"outbound"` in CALL_ROUTES): only the shared fields."""

    kind: Literal["outbound"] = Field(default="outbound", exclude=True)


Route = ForwardRoute | VoicemailRoute | AgentRoute | ListenRoute
ROUTE_KEYS = ("forwardTo", "voicemail", "agent", "listen")  # the key present decides the kind


def _parse_route(value: Any) -> Route:
    """One route value; the key present decides the kind, so a typo is an error, not voicemail."""
    if not isinstance(value, dict):
        raise TypeError('a route must be an object like {"forwardTo": "+1…"}')
    keys = set(value) & set(ROUTE_KEYS)
    if len(keys) != 1:
        raise ValueError("a route needs exactly one of " + ", ".join(f'"{key}"' for key in ROUTE_KEYS))
    key = keys.pop()
    if key == "forwardTo":
        return ForwardRoute.model_validate(value)
    if key == "voicemail":
        return VoicemailRoute.model_validate(value)
    if key == "listen":
        return ListenRoute.model_validate(value)
    agent = value.get("agent")
    return AgentRoute.model_validate({**value, "agent": {} if agent in (None, True) else agent})


def _parse_outbound(value: Any) -> OutboundRoute:
    if not isinstance(value, dict):
        raise TypeError('it must be an object like {"language": "es", "record": false}')
    return OutboundRoute.model_validate(value)


@dataclass(frozen=True)
class CallRoutes:
    """The routing table: per called number, with `"*"` as the fallback and voicemail after that.

    A plain frozen dataclass, not a model: each route is validated by its own model (built on first
    use), so a process builds only the route kinds its configuration holds. A settings field of this
    type is validated by `parse_call_routes` (`__get_pydantic_core_schema__`).
    """

    routes: Mapping[str, Route] = field(default_factory=dict)
    outbound: OutboundRoute = field(default_factory=OutboundRoute)

    def route_for(self, called: str | None) -> Route:
        if called and called in self.routes:
            return self.routes[called]
        return self.routes.get(DEFAULT_KEY) or VoicemailRoute()

    def listen_targets(self) -> list[tuple[str, str]]:
        """(route key, TwiML URL) of every listen route: what the allow-list must cover."""
        return [(key, r.listen.twiml_url) for key, r in self.routes.items() if isinstance(r, ListenRoute)]

    def summary(self, limit: int = 1000) -> str:
        """Where calls go, in one line for people (the stack's `CallRoutes` output, `local up`):
        each number's route, then the rest. At most about `limit` characters."""
        parts = [f"{key}: {_describe(route)}" for key, route in self.routes.items() if key != DEFAULT_KEY]
        fallback = self.routes.get(DEFAULT_KEY)
        rest = "every number" if not parts else "every other number"
        parts.append(f"{rest}: {_describe(fallback)}" if fallback else f"{rest}: voicemail (default)")
        text = "; ".join(parts)
        if len(text) <= limit:
            return text
        cut = text[:limit].rsplit("; ", 1)[0]
        return f"{cut}; … ({text.count('; ') - cut.count('; ')} more)"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(parse_call_routes)


def _describe(route: Route) -> str:
    recorded = "" if route.record else " (not recorded)"
    if isinstance(route, ForwardRoute):
        return f"forward to {route.forward_to}{recorded}"
    if isinstance(route, AgentRoute):
        return f"voice agent{recorded}"
    if isinstance(route, ListenRoute):
        return f"listen in, then {route.listen.method} {route.listen.twiml_url}{recorded}"
    return f"voicemail{recorded}"


def parse_call_routes(raw: str | Mapping[str, Any] | CallRoutes | None) -> CallRoutes:
    """Parse `CALL_ROUTES` (JSON text or an already decoded mapping); ConfigError names the problem."""
    if isinstance(raw, CallRoutes):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return CallRoutes()
    data: Any = raw
    if isinstance(raw, str):
        try:
            data = decode_json(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"CALL_ROUTES is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError('CALL_ROUTES must be a JSON object keyed by E.164 number or "*"')
    routes: dict[str, Route] = {}
    outbound: OutboundRoute | None = None
    for key, value in data.items():
        try:
            if key == OUTBOUND_KEY:
                outbound = _parse_outbound(value)
            elif key == DEFAULT_KEY or is_e164(key):
                routes[key] = _parse_route(value)
            else:
                problem = f'route key {key!r} is neither "*", "outbound" nor an E.164 number'
                raise ConfigError(f"CALL_ROUTES is invalid: {problem}")
        except ValidationError as exc:
            raise ConfigError(f"CALL_ROUTES is invalid: route {key!r}: {describe_errors(exc)}") from exc
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"CALL_ROUTES is invalid: route {key!r}: {exc}") from exc
    return CallRoutes(routes=routes, outbound=outbound or OutboundRoute())
