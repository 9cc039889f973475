"""The vendor credentials in Secrets Manager, as JSON documents the code's settings read: Twilio,
Deepgram and, unless Claude is asked through Amazon Bedrock (context modelProvider=bedrock, where the
roles sign the requests and no key exists), Anthropic.

The code is given only the secret's ARN (`*_SECRET_ARN`) and fetches the value itself, so no value
ever appears in an environment variable, a task definition or a template. New secrets hold a
placeholder the operator overwrites (docs/deploy.md) and are named `<stackName>/<vendor>` so a person
finds them; existing ones can be named in context instead (`twilioSecretArn`, ...). Each secret's
name and ARN are stack outputs (`TwilioSecretName`, `TwilioSecretArn`, ...), imported or not.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.nag import acknowledge
from infra.components.outputs import stack_output

PLACEHOLDER = "REPLACE_ME"


class ProductSecrets(Construct):
    """twilio {"account_sid","auth_token"}, deepgram {"api_key"}, anthropic {"api_key"} (None on
    Bedrock: nothing to create, import or grant)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.twilio = self._secret(
            config,
            "Twilio",
            config.twilio_secret_arn,
            ["account_sid", "auth_token"],
            "Twilio account SID and auth token (verifies webhook signatures, places calls)",
        )
        self.deepgram = self._secret(
            config,
            "Deepgram",
            config.deepgram_secret_arn,
            ["api_key"],
            "Deepgram API key (live speech-to-text)",
        )
        self.anthropic: secretsmanager.ISecret | None = None
        if not config.on_bedrock:
            self.anthropic = self._secret(
                config,
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
            secret_name=f"{config.stack_name}/agent-tools",  # the output below repeats it
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
        self._outputs(
            "AgentTools",
            f"{config.stack_name}/agent-tools",
            self.agent_tools,
            "The agent tools' HMAC key (generated; docs/agent.md)",
        )

    def _secret(
        self,
        config: InfraConfig,
        construct_id: str,
        existing_arn: str | None,
        keys: list[str],
        description: str,
    ) -> secretsmanager.ISecret:
        template = json.dumps(dict.fromkeys(keys, "..."))
        if existing_arn:
            imported = secretsmanager.Secret.from_secret_complete_arn(self, construct_id, existing_arn)
            self._outputs(
                construct_id, imported.secret_name, imported, f"Imported from context; holds {template}"
            )
            return imported
        name = f"{config.stack_name}/{construct_id.lower()}"
        secret = secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
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
        self._outputs(construct_id, name, secret, f"Put {template} here before the first call")
        return secret

    def _outputs(self, key: str, name: str, secret: secretsmanager.ISecret, description: str) -> None:
        """The name as given (CDK's `secret_name` of a named secret is a parse of its ARN at deploy)."""
        stack_output(self, f"{key}SecretName", name, description)
        stack_output(self, f"{key}SecretArn", secret.secret_arn, description)
