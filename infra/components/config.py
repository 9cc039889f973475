"""Deploy-time settings, read once from CDK context (`cdk.json`, `-c key=value`, cdk.context.json).

Every knob has a default that deploys a working stack; the ones that need a value from the operator
(domains, certificates) are optional and change what is built when present. Documented in
docs/deploy.md and docs/configuration.md ("Infrastructure").
Long (~530 lines) because every context key of the app is declared here, with its bounds, once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import annotated_types
from aws_cdk import aws_logs as logs
from constructs import Node
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from functions.webhooks.destinations import parse_prefixes
from shared import listen
from shared.anthropic_clients import ModelProvider, check_model_id
from shared.costs import Prices
from shared.errors import ConfigError
from shared.redaction import parse_patterns
from shared.routing import CallRoutes, parse_call_routes
from shared.validation import decode_json, describe_errors

# ECS refuses a container stopTimeout above this (seconds): SIGTERM then SIGKILL after it.
ECS_MAX_STOP_TIMEOUT = 120
# After its drain window the streamer still finalises the calls left: up to the Deepgram finalize
# timeout (8 s) plus the segment flush timeout (30 s) of streamer/config.py, then the CDR update and
# the event. The window must leave that much of the ECS stop timeout, or SIGKILL cuts it short.
STREAMER_WIND_DOWN_SECONDS = 8 + 30 + 7
ALB_MAX_DEREGISTRATION_DELAY = 3600
# How Twilio reaches the streamer's ALB (docs/deploy.md, "Which stream endpoint"): through a CloudFront
# distribution's own wss://<id>.cloudfront.net name, or straight to the ALB (HTTPS on the operator's
# domain; without one, plain ws:// that only a smoke test can use).
StreamEdge = Literal["cloudfront", "alb"]
# CloudFront price classes (which edge locations serve the stream); the cheapest is enough for Twilio.
StreamPriceClass = Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"]
# What the people's user pool does about risky sign-ins (docs/deploy.md, "Let people in"): `audit`
# scores and logs them (AWS's advice for the first weeks), `enforced` blocks high-risk sign-ins and
# known-compromised passwords.
ThreatProtection = Literal["audit", "enforced"]
# How much X-Ray the Lambdas record (infra.components.functions.LambdaTracing says what each means)
LambdaTracingMode = Literal["active", "sdk", "off"]
# Where Claude is asked (docs/deploy.md, "Claude through Amazon Bedrock"), and how a structured answer
# is asked of a Bedrock model (functions/summaries/llm.py, StructuredOutput)
ModelProviderName = Literal["anthropic", "bedrock"]
StructuredOutputName = Literal["native", "tool"]
AWS_REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
# CloudWatch Logs accepts only these retentions (days), in RetentionDays' declaration order.
_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class ContextError(ValueError):
    """A context value is present but unusable: synth stops before anything is deployed."""


def _call_routes_json(value: object) -> str:
    """`callRoutes` is JSON text on the command line but an object in cdk.json; the code wants text."""
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        decode_json(text)
    except json.JSONDecodeError as exc:
        raise PydanticCustomError("context_json", "is not valid JSON: {error}", {"error": str(exc)}) from exc
    return text


def _dial_prefixes(value: object) -> str | None:
    """`outboundAllowedPrefixes`, checked as the webhooks will check it, as the variable's text."""
    try:
        prefixes = parse_prefixes(value)
    except ValueError as exc:
        raise PydanticCustomError("context_prefixes", "{error}", {"error": str(exc)}) from exc
    return ",".join(prefixes) if prefixes else None


def _listen_urls(value: object) -> str | None:
    """`listenAllowedUrls` (a cdk.json list or comma-separated text), checked as the webhooks check
    it but stricter: https only (loopback http is for local runs, never a deployment)."""
    try:
        entries = listen.parse_allowed_urls(value, loopback_http=False)
    except ValueError as exc:
        raise PydanticCustomError("context_listen", "{error}", {"error": str(exc)}) from exc
    return ",".join(entries) if entries else None


def _prices_json(value: object) -> str:
    """`prices` overrides part of the code's dated price table (shared.costs.Prices): an object in
    cdk.json, JSON text on the command line. Checked here (an unknown price name, a negative price
    stop the synth) and passed on as compact JSON text, the `CALL_PRICES` the Lambdas read."""
    try:
        prices = Prices.parse(value)
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise PydanticCustomError("context_prices", "{error}", {"error": str(exc)}) from exc
    overrides = prices.model_dump(exclude_unset=True)
    return json.dumps(overrides, separators=(",", ":"), sort_keys=True)


def _redaction_patterns_json(value: object) -> str:
    """`redactionPatterns` (name -> regex), an object in cdk.json or JSON text on the command line, is
    checked as the code will check it (`shared.redaction.parse_patterns`), so a bad regex stops synth
    instead of every streamer task and recordings Lambda at start."""
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        parse_patterns(text)
    except ValueError as exc:
        raise PydanticCustomError("context_patterns", "{error}", {"error": str(exc)}) from None
    return text


def _evaluation_questions_json(value: object) -> str | None:
    """`evaluationQuestions`: a JSON list (text or a cdk.json list), checked as the Lambda will read
    it (shared/evaluations.py), so a duplicate id or a bad type stops synth, not the first summary."""
    from pydantic import ValidationError

    from shared.evaluations import EvaluationSettings

    if value is None or value == "" or value == []:
        return None
    text = _call_routes_json(value)
    try:
        EvaluationSettings.model_validate({"evaluation_questions": text})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise PydanticCustomError(
            "context_json", "is not a valid question list: {error}", {"error": problems}
        ) from exc
    return text


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _zero_is_none(value: int | None) -> int | None:
    return value or None


class InfraConfig(BaseModel):
    """What the operator chose, validated here so constructs can trust it.

    Each field's alias is its context key (docs/deploy.md lists them), and `from_context` reads only
    those keys: a typo'd key is ignored like any unknown context, exactly as the CDK CLI treats it.
    Context arrives as text from `-c key=value` and as JSON values from cdk.json, so fields take
    pydantic's lax parsing ("1200" is 1200, "false" is False) and numbers keep their deployable
    bounds here rather than failing later in CloudFormation.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_alias=True,
        validate_by_name=True,  # tests and tools may build one by field name
        coerce_numbers_to_str=True,  # a number where text is wanted (e.g. a zone id) is its digits
    )

    stack_name: str = Field("Callscribe", alias="stackName")
    # X-Ray for the Lambdas: active (Lambda's own), sdk (Powertools' Tracer too) or off.
    lambda_tracing: Annotated[LambdaTracingMode, BeforeValidator(_lower)] = Field(
        "active", alias="lambdaTracing"
    )
    # Streamer endpoint of one's own (both or neither): HTTPS on the ALB, no CloudFront. Twilio only
    # connects to wss://; without these the default CloudFront edge provides it.
    stream_domain_name: str | None = Field(None, alias="streamDomainName")
    stream_certificate_arn: str | None = Field(None, alias="streamCertificateArn")
    # Unset: CloudFront without a stream domain, the ALB with one (see `edge`).
    stream_edge: StreamEdge | None = Field(None, alias="streamEdge")
    stream_price_class: StreamPriceClass = Field("PriceClass_100", alias="streamPriceClass")
    # The console's distribution: which edges serve the people who use it (same classes as above), an
    # optional name of one's own with its ACM certificate (CloudFront takes certificates from
    # us-east-1 only) for TLS 1.2+, and an optional WAF web ACL (a CloudFront-scope one, us-east-1).
    console_price_class: StreamPriceClass = Field("PriceClass_100", alias="consolePriceClass")
    console_domain_name: str | None = Field(None, alias="consoleDomainName")
    console_certificate_arn: str | None = Field(
        None, alias="consoleCertificateArn", pattern=r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/.+$"
    )
    console_web_acl_arn: str | None = Field(
        None, alias="consoleWebAclArn", pattern=r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/.+$"
    )
    # The people's sign-in: Cognito threat protection's mode (the pool is on the Plus plan).
    people_threat_protection: Annotated[ThreatProtection, BeforeValidator(_lower)] = Field(
        "audit", alias="peopleThreatProtection"
    )
    # Optional custom domain for the webhooks API (a regional ACM certificate).
    api_domain_name: str | None = Field(None, alias="apiDomainName")
    api_certificate_arn: str | None = Field(None, alias="apiCertificateArn")
    # Route 53 zone to create alias records in (both attributes, so no lookup is needed at synth).
    hosted_zone_id: str | None = Field(None, alias="hostedZoneId")
    hosted_zone_name: str | None = Field(None, alias="hostedZoneName")
    # Use secrets that already exist instead of creating placeholders.
    twilio_secret_arn: str | None = Field(None, alias="twilioSecretArn")
    deepgram_secret_arn: str | None = Field(None, alias="deepgramSecretArn")
    anthropic_secret_arn: str | None = Field(None, alias="anthropicSecretArn")
    # Product behaviour passed to the code.
    call_routes: Annotated[str | None, BeforeValidator(_call_routes_json)] = Field(None, alias="callRoutes")
    deepgram_url: str = Field("wss://api.deepgram.com", alias="deepgramUrl")
    # Deepgram's transcription options, for the streamer and the recordings Lambda alike (unset: the
    # code's defaults in shared/deepgram.py). Lists are comma-separated, as the variables take them.
    deepgram_model: str | None = Field(None, alias="deepgramModel")
    deepgram_language: str | None = Field(None, alias="deepgramLanguage")
    deepgram_smart_format: bool | None = Field(None, alias="deepgramSmartFormat")
    deepgram_punctuate: bool | None = Field(None, alias="deepgramPunctuate")
    deepgram_redact: str | None = Field(None, alias="deepgramRedact")
    deepgram_keyterm: str | None = Field(None, alias="deepgramKeyterm")
    # LISTEN_ALLOWED_URLS: the TwiML URLs listen routes may hand calls to (exact, or prefixes ending
    # in *; docs/listen-in.md); every listen route in callRoutes must be covered, checked here
    listen_allowed_urls: Annotated[str | None, BeforeValidator(_listen_urls)] = Field(
        None, alias="listenAllowedUrls"
    )
    twilio_api_base_url: str = Field("https://api.twilio.com", alias="twilioApiBaseUrl")
    twilio_from_number: str | None = Field(None, alias="twilioFromNumber")
    # OUTBOUND_ALLOWED_PREFIXES: the numbers POST /calls may dial, comma-separated E.164 prefixes
    # (unset: the country codes of CALL_ROUTES' numbers and twilioFromNumber; docs/configuration.md)
    outbound_allowed_prefixes: Annotated[str | None, BeforeValidator(_dial_prefixes)] = Field(
        None, alias="outboundAllowedPrefixes"
    )
    # Claude for summaries, evaluations and agent mode: Anthropic's API (a key in the Anthropic secret)
    # or Amazon Bedrock (the roles invoke exactly the two models below; no Anthropic secret exists).
    model_provider: ModelProviderName = Field("anthropic", alias="modelProvider")
    # The Region Bedrock is called in (default: the stack's); a geographic inference profile must be
    # called from a Region of its geography (`eu.` from eu-*).
    bedrock_region: str | None = Field(None, alias="bedrockRegion", pattern=AWS_REGION_PATTERN)
    bedrock_structured_output: StructuredOutputName | None = Field(None, alias="bedrockStructuredOutput")
    # Model ids as the provider names them (unset: Claude Haiku 5.5, `claude-haiku-5-5` on Anthropic's
    # API, the `us.` inference profile on Bedrock: shared/anthropic_clients.py DEFAULT_MODELS).
    summary_model: str | None = Field(None, alias="summaryModel")
    agent_model: str | None = Field(None, alias="agentModel")
    # Price overrides for the cost per call (shared.costs.Prices; docs/costs.md lists the defaults)
    prices: Annotated[str | None, BeforeValidator(_prices_json)] = Field(None, alias="prices")
    # Transcript segments redacted before they are written (streamer and recordings Lambda alike):
    # the switch, and extra patterns as an object of name -> regex (docs/data-model.md, "Redaction").
    transcript_redaction: bool = Field(True, alias="transcriptRedaction")
    redaction_patterns: Annotated[str | None, BeforeValidator(_redaction_patterns_json)] = Field(
        None, alias="redactionPatterns"
    )
    # Evaluation questions (scorecards) the summaries Lambda answers: EVALUATION_QUESTIONS, a JSON list
    # (docs/summaries.md, "Evaluation questions").
    evaluation_questions: Annotated[str | None, BeforeValidator(_evaluation_questions_json)] = Field(
        None, alias="evaluationQuestions"
    )
    # Streamer sizing and lifecycle.
    streamer_cpu: int = Field(1024, alias="streamerCpu", ge=256, le=16384)
    streamer_memory_mib: int = Field(2048, alias="streamerMemoryMiB", ge=512, le=122880)
    streamer_arm64: bool = Field(True, alias="streamerArm64")
    streamer_image_uri: str | None = Field(None, alias="streamerImageUri")
    max_calls_per_task: int = Field(100, alias="maxCallsPerTask", ge=1, le=1000)
    min_tasks: int = Field(2, alias="minTasks", ge=2, le=100)
    max_tasks: int = Field(10, alias="maxTasks", ge=2, le=1000)
    active_calls_target_percent: int = Field(70, alias="activeCallsTargetPercent", ge=10, le=95)
    cpu_target_percent: int = Field(60, alias="cpuTargetPercent", ge=10, le=95)
    deregistration_delay_seconds: int = Field(
        900, alias="deregistrationDelaySeconds", ge=600, le=ALB_MAX_DEREGISTRATION_DELAY
    )
    stop_timeout_seconds: int = Field(
        ECS_MAX_STOP_TIMEOUT, alias="stopTimeoutSeconds", ge=30, le=ECS_MAX_STOP_TIMEOUT
    )
    drain_seconds: int = Field(  # 75 s by default (contract: at least 60 s)
        ECS_MAX_STOP_TIMEOUT - STREAMER_WIND_DOWN_SECONDS,
        alias="streamDrainSeconds",
        ge=10,
        le=ECS_MAX_STOP_TIMEOUT,
    )
    alb_idle_timeout_seconds: int = Field(900, alias="albIdleTimeoutSeconds", ge=300, le=4000)
    nat_gateways: int = Field(1, alias="natGateways", ge=1, le=2)
    # Webhooks API and Lambdas.
    api_rate_limit: int = Field(100, alias="apiRateLimit", ge=1, le=10000)
    api_burst_limit: int = Field(200, alias="apiBurstLimit", ge=1, le=5000)
    # Unreserved by default (0 reads the same): a new account's whole quota can be 10.
    summaries_concurrency: Annotated[int | None, AfterValidator(_zero_is_none)] = Field(
        None, alias="summariesConcurrency", ge=0, le=1000
    )
    log_retention_days: int = Field(30, alias="logRetentionDays", ge=1, le=3653)
    # Analyst exports.
    export_schedule: str = Field("cron(0 3 * * ? *)", alias="exportSchedule")
    # Days kept (docs/analytics.md, "How long snapshots are kept"): the raw exports hold full phone
    # numbers and any day of the last 35 can be exported again from PITR, so a week; the flat
    # snapshots keep last month-end's reproducible until the next one. At least 7 days of flat
    # snapshots: the `_current` tables point at the newest run's files, which must outlive a week
    # of failed runs.
    export_retention_days: int = Field(7, alias="exportRetentionDays", ge=1, le=3650)
    analytics_retention_days: int = Field(35, alias="analyticsRetentionDays", ge=7, le=3650)
    # Recordings: the bucket's lifecycle, the recordings Lambda, the sweeper.
    recordings_glacier_days: int = Field(30, alias="recordingsGlacierDays", ge=1, le=3650)
    # 0 keeps recordings until deleted by hand (retention rules differ by jurisdiction and business).
    recordings_expiration_days: int = Field(365, alias="recordingsExpirationDays", ge=0, le=36500)
    delete_twilio_recordings: bool = Field(False, alias="deleteTwilioRecordings")
    recordings_memory_mib: int = Field(1536, alias="recordingsMemoryMiB", ge=512, le=10240)
    recordings_concurrency: Annotated[int | None, AfterValidator(_zero_is_none)] = Field(
        None, alias="recordingsConcurrency", ge=0, le=1000
    )
    sweep_schedule: str = Field("rate(5 minutes)", alias="sweepSchedule")
    sweep_after_seconds: int = Field(600, alias="sweepAfterSeconds", ge=0, le=7 * 24 * 3600)
    sweep_redrive_alarm_threshold: int = Field(20, alias="sweepRedriveAlarmThreshold", ge=1, le=100000)
    # Monitoring.
    alarm_email: str | None = Field(None, alias="alarmEmail")
    reconnect_storm_threshold: int = Field(50, alias="reconnectStormThreshold", ge=1, le=100000)

    @property
    def on_bedrock(self) -> bool:
        return self.model_provider == ModelProvider.BEDROCK.value

    @property
    def secure_stream(self) -> bool:
        return bool(self.stream_domain_name and self.stream_certificate_arn)

    @property
    def edge(self) -> StreamEdge:
        """What fronts the streamer: as chosen, else the ALB when it has a domain and certificate of
        its own, else CloudFront (the only way to wss:// without a domain)."""
        if self.stream_edge:
            return self.stream_edge
        return "alb" if self.secure_stream else "cloudfront"

    def deepgram_environment(self) -> dict[str, str]:
        """`DEEPGRAM_URL` and the `DEEPGRAM_*` transcription options that are set (the variables
        `shared.deepgram.DeepgramOptions` reads): the one builder of what Deepgram hears a call with,
        for the streamer (live) and the recordings Lambda (the recording), so both hear it alike."""
        options: dict[str, str | bool | None] = {
            "DEEPGRAM_URL": self.deepgram_url,
            "DEEPGRAM_MODEL": self.deepgram_model,
            "DEEPGRAM_LANGUAGE": self.deepgram_language,
            "DEEPGRAM_SMART_FORMAT": self.deepgram_smart_format,
            "DEEPGRAM_PUNCTUATE": self.deepgram_punctuate,
            "DEEPGRAM_REDACT": self.deepgram_redact,
            "DEEPGRAM_KEYTERM": self.deepgram_keyterm,
        }
        return {
            name: ("true" if value else "false") if isinstance(value, bool) else value
            for name, value in options.items()
            if value is not None and value != ""
        }

    def prices_environment(self) -> dict[str, str]:
        """`CALL_PRICES` for every Lambda that writes a call's cost (webhooks, summaries, recordings,
        and the sweeper, which repairs a settled call's stale cost),
        when context `prices` overrides any; unset, the code's dated defaults apply."""
        return {"CALL_PRICES": self.prices} if self.prices else {}

    def redaction_environment(self) -> dict[str, str]:
        """`TRANSCRIPT_REDACTION` and, when set, `TRANSCRIPT_REDACTION_PATTERNS` (the variables
        `shared.redaction.RedactionSettings` reads), for every tier that writes segments."""
        env = {"TRANSCRIPT_REDACTION": "true" if self.transcript_redaction else "false"}
        if self.redaction_patterns:
            env["TRANSCRIPT_REDACTION_PATTERNS"] = self.redaction_patterns
        return env

    @property
    def routes(self) -> CallRoutes:
        """`callRoutes` parsed as the webhooks and the streamer parse it (valid: checked at synth)."""
        return parse_call_routes(self.call_routes)

    def listen_environment(self) -> dict[str, str]:
        """`LISTEN_ALLOWED_URLS` for the webhooks, when context `listenAllowedUrls` names any."""
        return {"LISTEN_ALLOWED_URLS": self.listen_allowed_urls} if self.listen_allowed_urls else {}

    @property
    def log_retention(self) -> logs.RetentionDays:
        """The shortest retention CloudWatch allows that keeps logs at least `log_retention_days`."""
        index = next(i for i, days in enumerate(_RETENTION_DAYS) if days >= self.log_retention_days)
        return list(logs.RetentionDays)[index]

    @classmethod
    def from_context(cls, node: Node) -> InfraConfig:
        """Read every key this model knows from context. An empty value means unset (`-c key=` is how
        the command line clears a key cdk.json sets), so the default applies."""
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            key = field.alias or name
            raw = node.try_get_context(key)
            if raw is not None and raw != "":
                values[key] = raw
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ContextError(describe_errors(exc, _describe_one)) from exc

    @model_validator(mode="after")
    def _routes_deployable(self) -> InfraConfig:
        """`callRoutes` as the webhooks will read it: every route valid, every listen route's URL an
        https URL that `listenAllowedUrls` allows and not this stack's own API; a refusal stops synth."""
        try:
            routes = parse_call_routes(self.call_routes)
            targets = routes.listen_targets()
            listen.check_targets(
                targets,
                tuple(self.listen_allowed_urls.split(",")) if self.listen_allowed_urls else (),
                loopback_http=False,
                routes_name="context callRoutes",
                allowed_name="context listenAllowedUrls",
            )
        except (ConfigError, ValueError) as exc:
            problem = str(exc).replace("CALL_ROUTES", "context callRoutes")
            raise PydanticCustomError("context_conflict", "{problem}", {"problem": problem}) from exc
        if self.api_domain_name:
            ours = f"https://{self.api_domain_name}"
            looping = [key for key, url in targets if listen.is_under(url, ours)]
            if looping:
                problem = (
                    f"context callRoutes routes {looping} hand calls back to this stack's own API "
                    f"({ours}): every hand-off would start the call over"
                )
                raise PydanticCustomError("context_conflict", "{problem}", {"problem": problem})
        return self

    @model_validator(mode="after")
    def _consistent(self) -> InfraConfig:
        """Choices that are only wrong together; checked once every value is known to be valid."""
        problem: str | None = None
        if bool(self.stream_domain_name) != bool(self.stream_certificate_arn):
            problem = "streamDomainName and streamCertificateArn go together (Twilio needs wss://)"
        elif self.stream_edge == "cloudfront" and self.stream_domain_name:
            problem = (
                "streamEdge=cloudfront serves the distribution's own wss://<id>.cloudfront.net name; "
                "a streamDomainName/streamCertificateArn goes with streamEdge=alb (or leave streamEdge unset)"
            )
        elif bool(self.api_domain_name) != bool(self.api_certificate_arn):
            problem = "apiDomainName and apiCertificateArn go together"
        elif bool(self.console_domain_name) != bool(self.console_certificate_arn):
            problem = "consoleDomainName and consoleCertificateArn (ACM, in us-east-1) go together"
        elif bool(self.hosted_zone_id) != bool(self.hosted_zone_name):
            problem = "hostedZoneId and hostedZoneName go together"
        elif self.min_tasks > self.max_tasks:
            problem = f"minTasks {self.min_tasks} exceeds maxTasks {self.max_tasks}"
        elif 0 < self.recordings_expiration_days <= self.recordings_glacier_days:
            problem = (
                f"recordingsExpirationDays {self.recordings_expiration_days} must exceed "
                f"recordingsGlacierDays {self.recordings_glacier_days} (or be 0: never expire)"
            )
        elif self.on_bedrock and self.anthropic_secret_arn:
            problem = (
                "anthropicSecretArn names an Anthropic key, which modelProvider=bedrock never reads "
                "(no Anthropic secret is created or granted): remove one of them"
            )
        elif not self.on_bedrock and (self.bedrock_region or self.bedrock_structured_output):
            problem = "bedrockRegion and bedrockStructuredOutput go with modelProvider=bedrock"
        elif (model_problem := self._model_problem()) is not None:
            problem = model_problem
        elif self.drain_seconds + STREAMER_WIND_DOWN_SECONDS > self.stop_timeout_seconds:
            problem = (
                f"streamDrainSeconds {self.drain_seconds} + {STREAMER_WIND_DOWN_SECONDS} s to finalise "
                f"the calls left exceeds stopTimeoutSeconds {self.stop_timeout_seconds}: ECS would "
                "SIGKILL the streamer before it stores their last segments"
            )
        if problem:
            raise PydanticCustomError("context_conflict", "{problem}", {"problem": problem})
        return self

    def _model_problem(self) -> str | None:
        """A model id the chosen provider cannot be asked for (the code would refuse it at start)."""
        provider = ModelProvider(self.model_provider)
        for key, model in (("summaryModel", self.summary_model), ("agentModel", self.agent_model)):
            if model:
                try:
                    check_model_id(provider, model)
                except ValueError as exc:
                    return f"context {key}: {exc}"
        return None


_NOT_AN_INTEGER = {"int_parsing", "int_type", "int_from_float"}
# What a key with a pattern must hold, in the operator's words (others print pydantic's message).
_PATTERN_MEANING = {
    "consoleCertificateArn": "an ACM certificate ARN in us-east-1 (CloudFront takes certificates only there)",
    "consoleWebAclArn": "a CloudFront-scope WAF web ACL ARN (arn:aws:wafv2:us-east-1:…:global/webacl/…)",
}
_NOT_A_BOOLEAN = {"bool_parsing", "bool_type"}
_OUT_OF_RANGE = {"greater_than_equal", "less_than_equal"}


def _bounds(key: str) -> tuple[object, object]:
    field = next(f for name, f in InfraConfig.model_fields.items() if (f.alias or name) == key)
    low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def _describe_one(error: ErrorDetails) -> str:
    """One problem in the operator's words: the context key, what it held, and what it must be."""
    if not error["loc"]:  # a conflict between keys: its message names them
        return str(error["msg"])
    key = str(error["loc"][0])
    raw = error["input"]
    kind = error["type"]
    if kind in _OUT_OF_RANGE:
        low, high = _bounds(key)
        return f"context {key}={raw} must be between {low} and {high}"
    if kind in _NOT_AN_INTEGER:
        low, high = _bounds(key)
        return f"context {key}={raw!r} is not an integer (expected a whole number from {low} to {high})"
    if kind in _NOT_A_BOOLEAN:
        return f"context {key}={raw!r} is not a boolean (expected true or false)"
    if kind == "string_pattern_mismatch" and key in _PATTERN_MEANING:
        return f"context {key}={raw!r} is not {_PATTERN_MEANING[key]}"
    if kind == "string_type":
        return f"context {key}={raw!r} is not text (expected a string)"
    if kind == "context_json":
        return f"context {key} {error['msg']}"
    if kind == "context_prices":
        return f"context {key}: {error['msg']}"
    return f"context {key}={raw!r}: {error['msg']}"
