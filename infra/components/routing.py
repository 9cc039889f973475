"""Where calls go, said on every synth: the `CallRoutes` stack output, and a warning when no routes
are configured (then every number goes to voicemail, which a first deploy should not do silently).

The output is for people: one line naming each number's route and the rest (`CallRoutes.summary`),
from the same parsed `callRoutes` the webhooks will read. A change must keep the warning's id
(`callscribe:no-call-routes`) and the output's key, which docs/deploy.md names.
"""

from __future__ import annotations

import aws_cdk as cdk

from infra.components.config import InfraConfig
from infra.components.outputs import stack_output

NO_ROUTES = (
    "voicemail for every number (default): set context callRoutes to forward, listen in or answer "
    'with the agent (docs/deploy.md, "Where calls go")'
)


def announce_routing(stack: cdk.Stack, config: InfraConfig) -> None:
    routes = config.routes
    if routes.routes:
        value = routes.summary()
    else:
        value = NO_ROUTES
        cdk.Annotations.of(stack).add_warning_v2(
            "callscribe:no-call-routes",
            "No callRoutes: every call to every number goes to voicemail. Set context callRoutes to "
            'choose (docs/deploy.md, "Where calls go"); set it to {"*": {"voicemail": true}} to '
            "keep voicemail and silence this warning.",
        )
    stack_output(stack, "CallRoutes", value, "Where inbound calls go (context callRoutes)")
