"""Claude through Amazon Bedrock (context `modelProvider=bedrock`): which model the summaries Lambda
and the streamer's agent ask for, in which Region, what their environment says, and IAM that allows
invoking exactly those models and nothing else.

What a change must keep: a foundation model is one ARN in the Bedrock Region; an inference profile
is two grants, the profile, and its foundation model in any Region but only through that profile
(`bedrock:InferenceProfileArn`), so the role reaches the model only the way the profile routes it.
The code is told the same ids the grants name, so the two cannot drift apart.
Why: docs/deploy.md, "Claude through Amazon Bedrock", "What the roles may do".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.components.config import ContextError, InfraConfig
from infra.components.nag import acknowledge
from shared.anthropic_clients import DEFAULT_MODELS, ModelProvider
from shared.bedrock_models import BedrockModelId

INVOKE = "bedrock:InvokeModel"  # messages.parse / create: the summaries Lambda
INVOKE_STREAM = "bedrock:InvokeModelWithResponseStream"  # messages.stream: the agent


@dataclass(frozen=True)
class BedrockModels:
    """The Bedrock Region and the two models the stack's roles may invoke."""

    region: str
    summary: BedrockModelId
    agent: BedrockModelId

    @classmethod
    def of(cls, config: InfraConfig, stack_region: str) -> BedrockModels | None:
        """None with modelProvider=anthropic; ContextError for a geographic profile that cannot be
        called from the Bedrock Region (Bedrock would refuse every request)."""
        if not config.on_bedrock:
            return None
        region = config.bedrock_region or stack_region
        default = DEFAULT_MODELS[ModelProvider.BEDROCK]
        chosen = {
            "summaryModel": config.summary_model or default,
            "agentModel": config.agent_model or default,
        }
        for key, model_id in chosen.items():
            if not BedrockModelId.parse(model_id).callable_from(region):
                raise ContextError(
                    f"context {key}={model_id!r} is an inference profile of another geography than "
                    f"the Bedrock Region {region} (context bedrockRegion, else the stack's): use the "
                    "profile of that Region's geography (e.g. eu.anthropic.… in eu-*), or global."
                )
        return cls(
            region,
            BedrockModelId.parse(chosen["summaryModel"]),
            BedrockModelId.parse(chosen["agentModel"]),
        )

    def environment(self, variable: str, model: BedrockModelId) -> dict[str, str]:
        """What the code reads to ask `model` on Bedrock (`variable`: SUMMARY_MODEL or AGENT_MODEL)."""
        return {
            "MODEL_PROVIDER": ModelProvider.BEDROCK.value,
            "BEDROCK_REGION": self.region,
            variable: model.model_id,
        }

    def grant_invoke(
        self, scope: IConstruct, role: iam.IRole, model: BedrockModelId, actions: Sequence[str]
    ) -> None:
        """Allow `role` `actions` on `model` alone (and, for a profile, on its model only through it)."""
        stack = cdk.Stack.of(scope)
        partition = stack.partition
        model_arn = f"arn:{partition}:bedrock:{self.region}::foundation-model/{model.foundation_model}"
        if not model.is_profile:
            role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[model_arn]))
            return
        profile_arn = (
            f"arn:{partition}:bedrock:{self.region}:{cdk.Aws.ACCOUNT_ID}:inference-profile/{model.model_id}"
        )
        routed = [f"arn:{partition}:bedrock:*::foundation-model/{model.foundation_model}"]
        if model.is_global:  # a global profile's destination is named without a Region
            routed.append(f"arn:{partition}:bedrock:::foundation-model/{model.foundation_model}")
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[profile_arn]))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=routed,
                conditions={"ArnEquals": {"bedrock:InferenceProfileArn": profile_arn}},
            )
        )
        acknowledge(
            role,
            [f"AwsSolutions-IAM5[Resource::{routed[0]}]"],
            f"{model.foundation_model} in each Region the inference profile {model.model_id} routes to; "
            "AWS chooses those Regions, and the statement's condition allows the model only through "
            "that profile (bedrock:InferenceProfileArn), so no other route or model is reachable.",
        )
