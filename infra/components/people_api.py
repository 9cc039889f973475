"""The people's read API: a REST API behind the people's Cognito authoriser, and its Lambda
(`functions/console_api`; docs/people.md, "The read API").

What a change must keep: regional, stage `api`, so the console's distribution forwards `/api/*`
unchanged; the routes are `functions/console_api/app.py`'s (`RESOURCES`), GET only, each behind the
pool's authoriser with no OAuth scopes (ID tokens, which carry the groups the Lambda checks);
responses never cached; access logs name the person's `sub` and the path, never query strings or
bodies. The Lambda's IAM is exactly what its ports call, plus `s3:GetObject` and `kms:Decrypt`
(through S3) on recordings, because the presigned links it signs must be readable by its role.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from functions.console_api.app import RESOURCES
from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.functions import BuiltFunction, build_python_function
from infra.components.nag import acknowledge, arn_wildcard
from infra.components.outputs import stack_output
from infra.components.people import PeopleDirectory
from infra.components.recordings import RECORDINGS_PREFIX, RecordingsBucket
from infra.components.storage import new_log_group
from shared.dal.tables import CALLS_BY_DAY_INDEX

STAGE = "api"  # CloudFront's `/api/*` behaviour forwards the path as it is: the stage is its prefix
RATE_LIMIT = 50  # requests per second across the stage: a console of tens of people reads far less
BURST_LIMIT = 100
# The query parameters each resource reads (functions/console_api/inputs.py, shared/transcript_pages.py)
LIST_QUERY = ("from", "to", "status", "route", "number", "limit", "cursor", "live")
PAGE_QUERY = ("limit", "cursor")  # a call's transcript page
QUERY_PARAMETERS = {"/calls": LIST_QUERY, "/calls/{callSid}": PAGE_QUERY}


# One JSON line per request: who (the person's `sub`, never their email), which call (the path holds
# the call SID; query strings, which may hold a phone number, are not logged), what came of it.
_field = apigw.AccessLogField
_ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
    json.dumps(
        {
            "requestId": _field.context_request_id(),
            "requestTime": _field.context_request_time(),
            "ip": _field.context_identity_source_ip(),
            "userAgent": _field.context_identity_user_agent(),
            "sub": _field.context_authorizer_claims("sub"),
            "httpMethod": _field.context_http_method(),
            "resourcePath": _field.context_resource_path(),
            "path": _field.context_path(),
            "status": _field.context_status(),
            "responseLength": _field.context_response_length(),
            "authorizerError": _field.context_authorizer_error(),
            "integrationStatus": _field.context_integration_status(),
        },
        separators=(",", ":"),
    )
)


class PeopleApi(Construct):
    """`api` (the REST API), `handler` (the console API Lambda), `methods` by resource path."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        recordings: RecordingsBucket,
        people: PeopleDirectory,
        logging_account: cdk.CfnResource,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = self._build_rest_api(config)
        # The account's CloudWatch role (set by the webhooks API) must exist before a stage logs.
        self.api.deployment_stage.node.add_dependency(logging_account)
        self.handler = self._build_handler(config, tables, recordings)
        self.methods = self._build_routes(people)
        self._no_store_on_gateway_errors()
        stack_output(
            scope,
            "PeopleApiUrl",
            self.api.url,
            "The people's read API (Cognito ID token); the console reaches it as /api on its own URL",
        )

    def _build_rest_api(self, config: InfraConfig) -> apigw.RestApi:
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.stack_name}-people",
            description="callscribe: the people's read API (the console's /api)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,  # the account's role is the webhooks API's (one per region)
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(
                    new_log_group(self, "AccessLogs", config.log_retention)
                ),
                access_log_format=_ACCESS_LOG_FORMAT,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # transcripts and numbers: never in execution logs
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=RATE_LIMIT,
                throttling_burst_limit=BURST_LIMIT,
            ),
        )
        api.node.try_remove_child("Endpoint")  # its key has a generated suffix: PeopleApiUrl instead
        acknowledge(
            api,
            ("AwsSolutions-APIG3",),
            "No WAF by default: every method needs a Cognito ID token of the people's pool (checked "
            "by API Gateway before the Lambda runs) and the stage is throttled; a web ACL can be "
            "associated with the stage without changing the app.",
        )
        return api

    def _build_handler(
        self, config: InfraConfig, tables: DataTables, recordings: RecordingsBucket
    ) -> BuiltFunction:
        built = build_python_function(
            self,
            "Handler",
            name="console_api",
            description="callscribe: the people's read API (calls, a call, a recording link)",
            config=config,
            timeout=cdk.Duration.seconds(20),  # a list page reads at most 14 day partitions
            environment={
                "CALLS_TABLE": tables.calls.table_name,
                "TRANSCRIPTS_TABLE": tables.transcripts.table_name,
                "RECORDINGS_BUCKET": recordings.bucket.bucket_name,
            },
        )
        self._grant(built, tables, recordings)
        return built

    @staticmethod
    def _grant(built: BuiltFunction, tables: DataTables, recordings: RecordingsBucket) -> None:
        """Exactly the read API's ports: DynamoCallReader (GetItem), DynamoCallList (Query on the
        index), DynamoSegments (Query), S3RecordingLinks (a presigned GetObject)."""
        function = built.function
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[tables.calls.table_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[tables.calls_index_arn(CALLS_BY_DAY_INDEX)]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[tables.transcripts.table_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[recordings.objects_arn()])
        )
        stack = cdk.Stack.of(built.function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[recordings.key.key_arn],
                # only for S3's reads of the recordings: never a direct Decrypt call
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.{stack.url_suffix}"}},
            )
        )
        acknowledge(
            built.role,
            (arn_wildcard(recordings.bucket, f"/{RECORDINGS_PREFIX}*"),),
            "A recording link names one object, made per call at run time; the statement is limited to "
            f"the recordings prefix ({RECORDINGS_PREFIX}) of the recordings bucket, and the link lasts "
            "minutes.",
        )

    def _build_routes(self, people: PeopleDirectory) -> dict[str, apigw.Method]:
        authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "Authorizer",
            cognito_user_pools=[people.user_pool],
            identity_source=apigw.IdentitySource.header("Authorization"),
            authorizer_name="people",
        )
        # parameters as declared below; bodies too, though GET carries none (cdk-nag APIG2 asks for both)
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigw.LambdaIntegration(self.handler.function, proxy=True)
        resources: dict[str, apigw.IResource] = {"": self.api.root}
        methods: dict[str, apigw.Method] = {}
        for path in RESOURCES:
            parent, _, part = path.rpartition("/")
            resources[path] = resources[parent].add_resource(part)
            parameters = {
                **({"method.request.path.callSid": True} if "{callSid}" in path else {}),
                **{f"method.request.querystring.{name}": False for name in QUERY_PARAMETERS.get(path, ())},
            }
            methods[path] = resources[path].add_method(
                "GET",
                integration,
                authorization_type=apigw.AuthorizationType.COGNITO,
                authorizer=authorizer,
                request_validator=validator,
                request_parameters=parameters or None,
            )
        return methods

    def _no_store_on_gateway_errors(self) -> None:
        """The gateway's own answers (401, throttling, 5xx) carry no-store like the Lambda's."""
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"NoStore{response_type.response_type}",
                type=response_type,
                response_headers={"Cache-Control": "'no-store'"},
            )
