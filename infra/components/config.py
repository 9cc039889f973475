"""Deploy-time settings, read once from CDK context (`cdk.json`, `-c key=value`, cdk.context.json).

Every knob has a default that deploys a working stack; the ones that need a value from the operator
(domains, certificates) are optional and change what is built when present. Documented in
docs/deploy.md and docs/configuration.md ("Infrastructure").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_logs as logs
from constructs import Node

# ECS refuses a container stopTimeout above this (seconds): SIGTERM then SIGKILL after it.
ECS_MAX_STOP_TIMEOUT = 120
# After its drain window the streamer still finalises the calls left: up to the Deepgram finalize
# timeout (8 s) plus the segment flush timeout (30 s) of streamer/config.py, then the CDR update and
# the event. The window must leave that much of the ECS stop timeout, or SIGKILL cuts it short.
STREAMER_WIND_DOWN_SECONDS = 8 + 30 + 7
ALB_MAX_DEREGISTRATION_DELAY = 3600
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


@dataclass(frozen=True)
class InfraConfig:
    """What the operator chose; validated here so constructs can trust it."""

    stack_name: str = "Callscribe"
    # Streamer endpoint: Twilio only accepts wss://, so production needs both of these.
    stream_domain_name: str | None = None
    stream_certificate_arn: str | None = None
    # Optional custom domain for the webhooks API (a regional ACM certificate).
    api_domain_name: str | None = None
    api_certificate_arn: str | None = None
    # Route 53 zone to create alias records in (both attributes, so no lookup is needed at synth).
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    # Use secrets that already exist instead of creating placeholders.
    twilio_secret_arn: str | None = None
    deepgram_secret_arn: str | None = None
    anthropic_secret_arn: str | None = None
    # Product behaviour passed to the code.
    call_routes: str | None = None
    deepgram_url: str = "wss://api.deepgram.com"
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_from_number: str | None = None
    summary_model: str | None = None
    # Streamer sizing and lifecycle.
    streamer_cpu: int = 1024
    streamer_memory_mib: int = 2048
    streamer_arm64: bool = True
    streamer_image_uri: str | None = None
    max_calls_per_task: int = 100
    min_tasks: int = 2
    max_tasks: int = 10
    active_calls_target_percent: int = 70
    cpu_target_percent: int = 60
    deregistration_delay_seconds: int = 900
    stop_timeout_seconds: int = ECS_MAX_STOP_TIMEOUT
    drain_seconds: int = ECS_MAX_STOP_TIMEOUT - STREAMER_WIND_DOWN_SECONDS  # 75 s (contract: ≥ 60 s)
    alb_idle_timeout_seconds: int = 900
    nat_gateways: int = 1
    # Webhooks API and Lambdas.
    api_rate_limit: int = 100
    api_burst_limit: int = 200
    summaries_concurrency: int | None = None  # unreserved: new accounts have a quota of only 10
    log_retention_days: int = 30
    # Analyst exports.
    export_schedule: str = "cron(0 3 * * ? *)"
    export_retention_days: int = 365
    # Monitoring.
    alarm_email: str | None = None
    reconnect_storm_threshold: int = 50

    @property
    def secure_stream(self) -> bool:
        return bool(self.stream_domain_name and self.stream_certificate_arn)

    @property
    def log_retention(self) -> logs.RetentionDays:
        """The shortest retention CloudWatch allows that keeps logs at least `log_retention_days`."""
        index = next(i for i, days in enumerate(_RETENTION_DAYS) if days >= self.log_retention_days)
        return list(logs.RetentionDays)[index]

    @classmethod
    def from_context(cls, node: Node) -> InfraConfig:
        def text(key: str) -> str | None:
            value = node.try_get_context(key)
            if value is None or value == "":
                return None
            return str(value)

        def number(key: str, default: int, low: int, high: int) -> int:
            raw = node.try_get_context(key)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except (TypeError, ValueError) as exc:
                raise ContextError(f"context {key}={raw!r} is not an integer") from exc
            if not low <= value <= high:
                raise ContextError(f"context {key}={value} must be between {low} and {high}")
            return value

        def flag(key: str, default: bool) -> bool:
            raw = node.try_get_context(key)
            if raw is None or raw == "":
                return default
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in {"true", "1", "yes"}:
                return True
            if str(raw).lower() in {"false", "0", "no"}:
                return False
            raise ContextError(f"context {key}={raw!r} is not a boolean")

        call_routes = node.try_get_context("callRoutes")
        if call_routes is not None and not isinstance(call_routes, str):
            call_routes = json.dumps(call_routes)  # an object in cdk.json
        if call_routes:
            try:
                json.loads(call_routes)
            except json.JSONDecodeError as exc:
                raise ContextError(f"context callRoutes is not valid JSON: {exc}") from exc

        config = cls(
            stack_name=text("stackName") or cls.stack_name,
            stream_domain_name=text("streamDomainName"),
            stream_certificate_arn=text("streamCertificateArn"),
            api_domain_name=text("apiDomainName"),
            api_certificate_arn=text("apiCertificateArn"),
            hosted_zone_id=text("hostedZoneId"),
            hosted_zone_name=text("hostedZoneName"),
            twilio_secret_arn=text("twilioSecretArn"),
            deepgram_secret_arn=text("deepgramSecretArn"),
            anthropic_secret_arn=text("anthropicSecretArn"),
            call_routes=call_routes or None,
            deepgram_url=text("deepgramUrl") or cls.deepgram_url,
            twilio_api_base_url=text("twilioApiBaseUrl") or cls.twilio_api_base_url,
            twilio_from_number=text("twilioFromNumber"),
            summary_model=text("summaryModel"),
            streamer_cpu=number("streamerCpu", cls.streamer_cpu, 256, 16384),
            streamer_memory_mib=number("streamerMemoryMiB", cls.streamer_memory_mib, 512, 122880),
            streamer_arm64=flag("streamerArm64", cls.streamer_arm64),
            streamer_image_uri=text("streamerImageUri"),
            max_calls_per_task=number("maxCallsPerTask", cls.max_calls_per_task, 1, 1000),
            min_tasks=number("minTasks", cls.min_tasks, 2, 100),
            max_tasks=number("maxTasks", cls.max_tasks, 2, 1000),
            active_calls_target_percent=number("activeCallsTargetPercent", 70, 10, 95),
            cpu_target_percent=number("cpuTargetPercent", 60, 10, 95),
            deregistration_delay_seconds=number(
                "deregistrationDelaySeconds",
                cls.deregistration_delay_seconds,
                600,
                ALB_MAX_DEREGISTRATION_DELAY,
            ),
            stop_timeout_seconds=number("stopTimeoutSeconds", ECS_MAX_STOP_TIMEOUT, 30, ECS_MAX_STOP_TIMEOUT),
            drain_seconds=number("streamDrainSeconds", cls.drain_seconds, 10, ECS_MAX_STOP_TIMEOUT),
            alb_idle_timeout_seconds=number("albIdleTimeoutSeconds", cls.alb_idle_timeout_seconds, 300, 4000),
            nat_gateways=number("natGateways", cls.nat_gateways, 1, 2),
            api_rate_limit=number("apiRateLimit", cls.api_rate_limit, 1, 10000),
            api_burst_limit=number("apiBurstLimit", cls.api_burst_limit, 1, 5000),
            summaries_concurrency=number("summariesConcurrency", 0, 0, 1000) or None,
            log_retention_days=number("logRetentionDays", cls.log_retention_days, 1, 3653),
            export_schedule=text("exportSchedule") or cls.export_schedule,
            export_retention_days=number("exportRetentionDays", cls.export_retention_days, 30, 3650),
            alarm_email=text("alarmEmail"),
            reconnect_storm_threshold=number(
                "reconnectStormThreshold", cls.reconnect_storm_threshold, 1, 100000
            ),
        )
        config.validate()
        return config

    def validate(self) -> None:
        if bool(self.stream_domain_name) != bool(self.stream_certificate_arn):
            raise ContextError("streamDomainName and streamCertificateArn go together (Twilio needs wss://)")
        if bool(self.api_domain_name) != bool(self.api_certificate_arn):
            raise ContextError("apiDomainName and apiCertificateArn go together")
        if bool(self.hosted_zone_id) != bool(self.hosted_zone_name):
            raise ContextError("hostedZoneId and hostedZoneName go together")
        if self.min_tasks > self.max_tasks:
            raise ContextError(f"minTasks {self.min_tasks} exceeds maxTasks {self.max_tasks}")
        if self.drain_seconds + STREAMER_WIND_DOWN_SECONDS > self.stop_timeout_seconds:
            raise ContextError(
                f"streamDrainSeconds {self.drain_seconds} + {STREAMER_WIND_DOWN_SECONDS} s to finalise "
                f"the calls left exceeds stopTimeoutSeconds {self.stop_timeout_seconds}: ECS would "
                "SIGKILL the streamer before it stores their last segments"
            )
