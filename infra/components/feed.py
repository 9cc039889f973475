"""The live feed: an AppSync Events API whose namespace `calls` people subscribe to and our code
publishes to (shared/feed.py names the channels and messages).

What a change must keep, all checked by AppSync: connecting and subscribing take a token of the
people's user pool and then the namespace's onSubscribe handler (`SUBSCRIBE_HANDLER`) refuses anyone
not in `callscribe-viewers`, as the local stand-in does; publishing is IAM only, granted to exactly
the streamer's task role and the call feed Lambda; no API key exists; logs at ERROR, never event
payloads (they are transcripts). Details and outputs: docs/people.md, "In AWS".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.nag import acknowledge, arn_wildcard
from infra.components.outputs import stack_output
from infra.components.people import PeopleDirectory
from shared import stack_outputs
from shared.access import VIEWERS
from shared.feed import NAMESPACE

REALTIME_PATH = "/event/realtime"
APPSYNC_LOG_GROUP_PREFIX = "/aws/appsync/apis/"
# The namespace's handlers (APPSYNC_JS, whose runtime has no try/catch, classic for loops or `in`).
# The Cognito auth mode has already verified the token (signature, issuer, expiry, client); this adds
# the group, failing closed on anything but a list naming it exactly (a string is read character by
# character). No onPublish: events pass through unchanged (the default).
SUBSCRIBE_HANDLER = f"""import {{ util }} from '@aws-appsync/utils';

export function onSubscribe(ctx) {{
  const groups = ctx.identity?.groups ?? ctx.identity?.claims?.['cognito:groups'] ?? [];
  let viewer = false;
  for (const group of groups) {{
    if (group === '{VIEWERS}') {{
      viewer = true;
    }}
  }}
  if (!viewer) {{
    util.unauthorized();
  }}
}}
"""


class LiveFeed(Construct):
    """`api`, `namespace`; `environment` for a publisher, `grant_publish` to let it publish."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, people: PeopleDirectory
    ) -> None:
        super().__init__(scope, construct_id)
        cognito_mode = appsync.AppSyncAuthorizationType.USER_POOL
        iam_mode = appsync.AppSyncAuthorizationType.IAM
        self.api = appsync.EventApi(
            self,
            "Api",
            api_name=f"{config.stack_name}-feed",
            authorization_config=appsync.EventApiAuthConfig(
                auth_providers=[
                    appsync.AppSyncAuthProvider(
                        authorization_type=cognito_mode,
                        cognito_config=appsync.AppSyncCognitoConfig(user_pool=people.user_pool),
                    ),
                    appsync.AppSyncAuthProvider(authorization_type=iam_mode),
                ],
                connection_auth_mode_types=[cognito_mode],
                default_subscribe_auth_mode_types=[cognito_mode],
                default_publish_auth_mode_types=[iam_mode],
            ),
        )
        self.log_group = self._log_errors(config)
        self.namespace = self.api.add_channel_namespace(
            "Calls",
            channel_namespace_name=NAMESPACE,
            authorization_config=appsync.NamespaceAuthConfig(
                subscribe_auth_mode_types=[cognito_mode],
                publish_auth_mode_types=[iam_mode],
            ),
            code=appsync.Code.from_inline(SUBSCRIBE_HANDLER),
        )
        self.http_host = self.api.http_dns
        self.realtime_url = f"wss://{self.api.realtime_dns}{REALTIME_PATH}"
        stack_output(
            self,
            stack_outputs.FEED_HTTP_HOST,
            self.http_host,
            "The live feed's HTTP host (publish; the host in a subscriber's auth header)",
        )
        stack_output(
            self, stack_outputs.FEED_REALTIME_URL, self.realtime_url, "The live feed's realtime WebSocket"
        )

    def _log_errors(self, config: InfraConfig) -> logs.LogGroup:
        """AppSync's log group, made here with the configured retention, and a role that may write
        only to it. (EventApi's own `log_config` would add CDK's LogRetention Lambda, with an AWS
        managed policy, to set a retention this group already has.)"""
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"{APPSYNC_LOG_GROUP_PREFIX}{self.api.api_id}",  # where AppSync writes
            retention=config.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "LogsRole",
            assumed_by=iam.ServicePrincipal("appsync.amazonaws.com"),
            description="callscribe: AppSync writes the live feed's errors to its own log group",
        )
        # A policy of its own, not the role's default one: the API depends on the role, the policy
        # on the log group, the log group on the API.
        iam.Policy(
            self,
            "LogsPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["logs:CreateLogGroup"], resources=[log_group.log_group_arn]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group.log_group_arn}:*"],
                ),
            ],
        )
        acknowledge(
            self,
            (arn_wildcard(log_group, ":*"),),
            "AppSync names its log streams at run time; the statement is limited to the live feed's own "
            "log group.",
        )
        api = self.api.node.default_child
        assert isinstance(api, appsync.CfnApi)
        # ERROR: refused connections, subscribes and publishes, handler errors; never event payloads
        api.add_property_override(
            "EventConfig.LogConfig", {"CloudWatchLogsRoleArn": role.role_arn, "LogLevel": "ERROR"}
        )
        return log_group

    @property
    def environment(self) -> dict[str, str]:
        """What a publisher's FeedSettings read (shared/feed_publisher.py)."""
        return {"FEED_HTTP_URL": f"https://{self.http_host}", "FEED_REGION": cdk.Stack.of(self).region}

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.namespace.grant_publish(grantee)

    def add_publisher(self, container: ecs.ContainerDefinition, role: iam.IRole) -> None:
        """A container that publishes (the streamer): its settings and its right to publish."""
        for name, value in self.environment.items():
            container.add_environment(name, value)
        self.grant_publish(role)
