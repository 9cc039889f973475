"""The webhooks REST API and its Lambda.

Twilio's three callbacks carry no AWS credentials: their authentication is the X-Twilio-Signature
the function verifies (403 on a bad one), so the gateway leaves them open and the cdk-nag
acknowledgments below say so. The two /calls routes are for the operator's own systems and require
SigV4 (AWS_IAM). Form bodies arrive as text (no binary media types), which the function handles.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.dns import alias_in_hosted_zone
from infra.components.functions import BuiltFunction, build_python_function
from infra.components.nag import acknowledge
from infra.components.outputs import stack_output
from infra.components.secrets import ProductSecrets
from infra.components.storage import new_log_group
from shared.patterns import E164_MAX_LENGTH, E164_PATTERN

STAGE = "prod"
TWILIO_ROUTES = ("voice", "status", "recording")

# POST /calls: the contract's body; limits stop junk before it costs a Lambda invocation. The number
# shape is the one the Lambda checks too (shared/patterns.py), so the gateway never lets through what
# the function then refuses, nor refuses what it would take.
_E164_SCHEMA = apigw.JsonSchema(
    type=apigw.JsonSchemaType.STRING, pattern=E164_PATTERN, max_length=E164_MAX_LENGTH
)
_START_CALL_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="StartCall",
    type=apigw.JsonSchemaType.OBJECT,
    required=["to", "connectTo"],
    additional_properties=False,
    properties={"to": _E164_SCHEMA, "connectTo": _E164_SCHEMA, "from": _E164_SCHEMA},
)


class WebhooksApi(Construct):
    """The REST API, its one Lambda, the routes and the URLs Twilio is given; `__init__` lists the
    steps. Construct ids stay directly under this construct so a deployed stack's logical ids hold."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        secrets: ProductSecrets,
        stream_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = self._build_rest_api(config)
        self.base_url = self._base_url(config)
        self.handler = self._build_handler(config, tables, secrets, stream_url)
        integration = apigw.LambdaIntegration(self.handler.function, proxy=True)
        self.twilio_methods = self._build_twilio_routes(integration)
        self._build_calls_routes(integration)
        self._acknowledge_api()
        self.webhook_urls = {route: f"{self.base_url}/twilio/{route}" for route in TWILIO_ROUTES}
        self._build_outputs(scope)

    def _build_rest_api(self, config: InfraConfig) -> apigw.RestApi:
        """Regional, throttled, access-logged; execution logs at ERROR without bodies."""
        return apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.stack_name}-webhooks",
            description="callscribe: Twilio webhooks and the calls API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(
                    new_log_group(self, "AccessLogs", config.log_retention),
                ),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies hold phone numbers: never in execution logs
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
            ),
        )

    def _build_handler(
        self,
        config: InfraConfig,
        tables: DataTables,
        secrets: ProductSecrets,
        stream_url: str,
    ) -> BuiltFunction:
        handler = build_python_function(
            self,
            "Handler",
            name="webhooks",
            description="callscribe: Twilio voice/status/recording webhooks and the calls API",
            config=config,
            memory_size=1024,  # more CPU for the cold start: Twilio waits at most 15 s for TwiML
            timeout=cdk.Duration.seconds(15),
            environment={
                "CALLS_TABLE": tables.calls.table_name,
                "TRANSCRIPTS_TABLE": tables.transcripts.table_name,
                "STREAM_URL": stream_url,
                "WEBHOOK_BASE_URL": self.base_url,
                "TWILIO_API_BASE_URL": config.twilio_api_base_url,
                "TWILIO_SECRET_ARN": secrets.twilio.secret_arn,
                **({"CALL_ROUTES": config.call_routes} if config.call_routes else {}),
                **config.listen_environment(),  # the TwiML URLs listen routes may hand calls to
                **({"TWILIO_FROM_NUMBER": config.twilio_from_number} if config.twilio_from_number else {}),
                **(
                    {"OUTBOUND_ALLOWED_PREFIXES": config.outbound_allowed_prefixes}
                    if config.outbound_allowed_prefixes
                    else {}
                ),
                **config.prices_environment(),  # a terminal status or recording recomputes the cost
            },
        )
        function = handler.function
        # Exactly what the webhooks' ports on shared/dal call (WebhookCallWrites, SegmentReader):
        # conditional UpdateItem writes, consistent GetItem reads, the transcript Query of GET /calls.
        # No bus: what the writes change is announced by the outbox (infra/components/outbox.py).
        tables.calls.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        tables.transcripts.grant(function, "dynamodb:Query")
        secrets.twilio.grant_read(function)
        tables.acknowledge_index_access(handler.role)
        return handler

    def _build_twilio_routes(self, integration: apigw.LambdaIntegration) -> list[apigw.Method]:
        """Open at the gateway: Twilio signs, it does not hold AWS credentials."""
        twilio = self.api.root.add_resource("twilio")
        methods = []
        for route in TWILIO_ROUTES:
            method = twilio.add_resource(route).add_method(
                "POST",
                integration,
                authorization_type=apigw.AuthorizationType.NONE,
            )
            methods.append(method)
            acknowledge(
                method,
                ("AwsSolutions-APIG4", "AwsSolutions-COG4"),
                "Twilio webhooks carry no AWS credentials: the function verifies X-Twilio-Signature "
                "(HMAC with the account's auth token) and answers 403 before anything is written.",
            )
        return methods

    def _build_calls_routes(self, integration: apigw.LambdaIntegration) -> None:
        """SigV4 only; the gateway validates POST bodies against the contract before the Lambda runs."""
        validator = self.api.add_request_validator(
            "Validator",
            validate_request_body=True,
            validate_request_parameters=True,
        )
        start_call = self.api.add_model(
            "StartCall",
            content_type="application/json",
            schema=_START_CALL_SCHEMA,
        )
        calls = self.api.root.add_resource("calls")
        calls.add_method(
            "POST",
            integration,
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=validator,
            request_models={"application/json": start_call},
        )
        calls.add_resource("{callSid}").add_method(
            "GET",
            integration,
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=validator,
            request_parameters={
                "method.request.path.callSid": True,
                # transcript paging (shared/transcript_pages.py validates them: 400)
                "method.request.querystring.limit": False,
                "method.request.querystring.cursor": False,
            },
        )

    def _acknowledge_api(self) -> None:
        acknowledge(
            self.api,
            ("AwsSolutions-COG4",),
            "The /calls routes use AWS_IAM (SigV4) for the operator's own systems; Cognito would add "
            "a user pool nobody logs in to. The Twilio routes are signature-authenticated.",
        )
        acknowledge(
            self.api,
            ("AwsSolutions-APIG3",),
            "No WAF by default: Twilio routes reject unsigned requests in the function and the stage "
            "is throttled; a WAF web ACL can be associated with the stage without changing the app.",
        )
        acknowledge(
            self.api,
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
            ),
            "The account-level role API Gateway needs to write execution and access logs; AWS "
            "maintains its policy and it grants nothing beyond CloudWatch Logs.",
        )

    def _build_outputs(self, scope: Construct) -> None:
        """What the operator pastes into the Twilio console, and the calls API. RestApi's own
        `Endpoint` output is replaced by `WebhooksApiUrl`: its key carries a generated suffix."""
        self.api.node.try_remove_child("Endpoint")
        stack_output(
            scope,
            "WebhooksApiUrl",
            self.api.url,
            "The API's own execute-api stage URL (the webhook URLs use apiDomainName when it is set)",
        )
        for route, url in self.webhook_urls.items():
            stack_output(
                scope,
                f"Twilio{route.capitalize()}WebhookUrl",
                url,
                f"Twilio console: the {route} webhook (HTTP POST)",
            )
        stack_output(
            scope,
            "CallsApiUrl",
            f"{self.base_url}/calls",
            "POST /calls and GET /calls/{callSid} (SigV4, execute-api:Invoke)",
        )

    def _base_url(self, config: InfraConfig) -> str:
        """The public base URL Twilio signs against. Built from the API id, not `api.url`, because the
        stage depends on the methods which depend on the function: a cycle."""
        if config.api_domain_name and config.api_certificate_arn:
            domain = self.api.add_domain_name(
                "Domain",
                domain_name=config.api_domain_name,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", config.api_certificate_arn
                ),
                endpoint_type=apigw.EndpointType.REGIONAL,
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
            alias_in_hosted_zone(
                self,
                config,
                config.api_domain_name,
                route53.RecordTarget.from_alias(route53_targets.ApiGatewayDomain(domain)),
            )
            return f"https://{config.api_domain_name}"
        stack = cdk.Stack.of(self)
        return f"https://{self.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{STAGE}"
