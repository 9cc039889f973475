"""The three vendor credentials in Secrets Manager, as JSON documents the code's settings read.

The code is given only the secret's ARN (`*_SECRET_ARN`) and fetches the value itself, so no value
ever appears in an environment variable, a task definition or a template. New secrets hold a
placeholder the operator overwrites (docs/deploy.md); existing ones can be named in context instead.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.nag import acknowledge

PLACEHOLDER = "REPLACE_ME"


class ProductSecrets(Construct):
    """twilio {"account_sid","auth_token"}, deepgram {"api_key"}, anthropic {"api_key"}."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.twilio = self._secret(
            "Twilio",
            config.twilio_secret_arn,
            ["account_sid", "auth_token"],
            "Twilio account SID and auth token (verifies webhook signatures, places calls)",
        )
        self.deepgram = self._secret(
            "Deepgram",
            config.deepgram_secret_arn,
            ["api_key"],
            "Deepgram API key (live speech-to-text)",
        )
        self.anthropic = self._secret(
            "Anthropic",
            config.anthropic_secret_arn,
            ["api_key"],
            "Anthropic API key (call summaries)",
        )
        # Ours, not a vendor's: the key agent mode signs its HTTP tool requests with (docs/agent.md).
        # Generated here, so there is nothing to paste; tool owners read it to verify signatures.
        self.agent_tools = secretsmanager.Secret(
            self,
            "AgentTools",
            description="callscribe: HMAC key that signs agent HTTP tool requests. JSON key: signing_secret",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 - an empty JSON template, not a secret
                generate_string_key="signing_secret",
                exclude_punctuation=True,
                password_length=48,
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.agent_tools,
            ("AwsSolutions-SMG4",),
            "A shared HMAC key with the operator's own tool endpoints; rotating it needs those endpoints "
            "to change in step, which a rotation Lambda cannot coordinate. docs/agent.md covers rotation.",
        )

    def _secret(
        self,
        construct_id: str,
        existing_arn: str | None,
        keys: list[str],
        description: str,
    ) -> secretsmanager.ISecret:
        if existing_arn:
            return secretsmanager.Secret.from_secret_complete_arn(self, construct_id, existing_arn)
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=f"callscribe: {description}. JSON keys: {', '.join(keys)}",
            secret_object_value={key: cdk.SecretValue.unsafe_plain_text(PLACEHOLDER) for key in keys},
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            ("AwsSolutions-SMG4",),
            "Vendor API credentials (Twilio, Deepgram, Anthropic) are rotated in the vendor's console, "
            "not by a rotation Lambda; docs/deploy.md describes rotating them with put-secret-value.",
        )
        cdk.CfnOutput(
            self,
            f"{construct_id}SecretArn",
            value=secret.secret_arn,
            description=f"Put {json.dumps(dict.fromkeys(keys, '...'))} here before the first call",
        )
        return secret
