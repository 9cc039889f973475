"""The one way this app builds a Lambda function: arm64, the tested Python, its own role and log group.

Each function gets an explicit role with only what its construct grants it (no managed policies), an
explicit log group with retention (so logs do not live forever, and the role can write only there),
the X-Ray mode chosen with context `lambdaTracing`, the Powertools settings the code's
observability module expects, and two stack outputs: `<Name>FunctionName` and `<Name>LogGroupName`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.components.bundling import LAMBDA_RUNTIME, function_code
from infra.components.config import InfraConfig
from infra.components.nag import acknowledge, arn_wildcard
from infra.components.outputs import pascal, stack_output
from infra.components.storage import new_log_group
from shared.telemetry import METRICS_NAMESPACE


class LambdaTracing(StrEnum):
    """How much X-Ray the Lambdas record; a deploy-time choice because the SDK costs cold start.

    `active` (the default): Lambda's own active tracing. The service records each sampled
    invocation (its init, invocation and overhead) linked to API Gateway's trace, and botocore
    forwards the trace header on AWS calls; the code loads no X-Ray SDK, so the cold start is the
    product's own. `sdk` adds Powertools' Tracer in the code: handler and route subsegments,
    `ColdStart`/`call_sid` annotations, DynamoDB/EventBridge calls as subsegments, for the
    SDK's import and patching at init (~15-25 ms of CPU locally; docs/benchmarks.md). `off`
    records nothing and grants no X-Ray actions. docs/deploy.md, "Tracing and cold starts".
    """

    ACTIVE = "active"
    SDK = "sdk"
    OFF = "off"

    @property
    def lambda_mode(self) -> lambda_.Tracing:
        return lambda_.Tracing.DISABLED if self is LambdaTracing.OFF else lambda_.Tracing.ACTIVE

    @property
    def environment(self) -> dict[str, str]:
        """POWERTOOLS_TRACE_DISABLED: shared/observability builds the real Tracer only when false."""
        return {"POWERTOOLS_TRACE_DISABLED": "false" if self is LambdaTracing.SDK else "true"}


@dataclass(frozen=True)
class BuiltFunction:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def service_name(function_name: str) -> str:
    """The function's POWERTOOLS_SERVICE_NAME: the `service` dimension of its metrics."""
    return "callscribe-" + function_name.replace("_", "-")


def build_python_function(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    description: str,
    environment: Mapping[str, str],
    config: InfraConfig,
    timeout: cdk.Duration | None = None,
    memory_size: int = 512,
    reserved_concurrency: int | None = None,
    ephemeral_storage_mib: int | None = None,
) -> BuiltFunction:
    """`name` is the folder under functions/, its line in infra/dependencies.py (what its bundle
    holds) and the Powertools service suffix (callscribe-<name>, `_` written `-`: `callscribe-call-feed`)."""
    tracing = LambdaTracing(config.lambda_tracing)
    log_group = new_log_group(scope, f"{construct_id}Logs", config.log_retention)
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"callscribe {name} Lambda: only what its construct grants",
    )
    # Only this function's log group; CreateLogGroup is not needed since the group is pre-created.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}:*"],
        )
    )
    function = lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=LAMBDA_RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=f"functions.{name}.app.handler",
        code=function_code(name),
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        tracing=tracing.lambda_mode,
        timeout=timeout or cdk.Duration.seconds(29),
        memory_size=memory_size,
        reserved_concurrent_executions=reserved_concurrency,
        ephemeral_storage_size=cdk.Size.mebibytes(ephemeral_storage_mib) if ephemeral_storage_mib else None,
        environment={
            "POWERTOOLS_SERVICE_NAME": service_name(name),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **tracing.environment,
            **environment,
        },
    )
    acknowledge(
        function,
        ("AwsSolutions-L1",),
        f"Runs {LAMBDA_RUNTIME.name}, the Python the test suite runs on, with the bundle built from the "
        'same locked versions; Lambda supports it until mid-2027 (docs/deploy.md, "What is deployed", '
        "says when it must move and what moving takes).",
    )
    acknowledge(
        role,
        (arn_wildcard(log_group, ":*"),),
        "Log streams are created per execution environment with names unknown in advance; the "
        "statement is limited to this function's own log group.",
    )
    stack_output(
        scope,
        f"{pascal(name)}FunctionName",
        function.function_name,
        f"The {name} Lambda (update its configuration to recycle its containers)",
    )
    stack_output(scope, f"{pascal(name)}LogGroupName", log_group.log_group_name, f"The {name} Lambda's logs")
    if tracing is not LambdaTracing.OFF:
        acknowledge(
            role,
            ("AwsSolutions-IAM5[Resource::*]",),
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
        )
    return BuiltFunction(function=function, role=role, log_group=log_group)
