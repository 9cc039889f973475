"""Names of the stack outputs the `callscribe` command reads from a deployed stack (`users add`, `tail`).

infra writes these outputs (`cdk.CfnOutput(stack, NAME, …)`) and the CLI finds them with
CloudFormation's DescribeStacks, so both take the names from here. This module imports nothing
(infra reads it at synth); keep it that way.
"""

from __future__ import annotations

from typing import Final

USER_POOL_ID: Final = "PeopleUserPoolId"  # the people's Cognito user pool
USER_POOL_CLIENT_ID: Final = "PeopleUserPoolClientId"  # its app client (USER_PASSWORD_AUTH, no secret)
FEED_HTTP_HOST: Final = "FeedHttpHost"  # the Event API's HTTP host: publish, and the auth header's host
FEED_REALTIME_URL: Final = "FeedRealtimeUrl"  # wss://…/event/realtime
CONSOLE_URL: Final = "ConsoleUrl"  # the console's CloudFront URL
