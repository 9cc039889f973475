"""The people's sign-in: a Cognito user pool an admin adds people to, its two groups, the console's
app client.

What a change must keep: nobody signs up (an administrator adds each person); email is the username,
so `cognito:username` is the `sub` the audit log names; threat protection's risk configuration is
attached in `audit` and `enforced` alike (one context change switches); the pool is retained with
deletion protection; the client has no secret and no OAuth flows, `USER_PASSWORD_AUTH` and refresh
only, short-lived tokens, revocation on. The groups (shared/access.py) are checked on the server side.
Details: docs/people.md, "In AWS"; docs/deploy.md, "Let people in"; docs/infra.md.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.nag import acknowledge
from infra.components.outputs import stack_output
from shared import stack_outputs
from shared.access import SUPERVISORS, VIEWERS

PASSWORD_MIN_LENGTH = 12
TOKEN_VALIDITY = cdk.Duration.hours(1)  # ID and access tokens
REFRESH_TOKEN_VALIDITY = cdk.Duration.hours(12)
_THREAT_PROTECTION = {
    "audit": cognito.StandardThreatProtectionMode.AUDIT_ONLY,
    "enforced": cognito.StandardThreatProtectionMode.FULL_FUNCTION,
}


class PeopleDirectory(Construct):
    """`user_pool` and `client` (the console's); outputs `PeopleUserPoolId`, `PeopleUserPoolClientId`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = self._build_pool(config)
        self.client = self._build_client()
        self._build_groups()
        self._build_risk_configuration()
        stack_output(self, stack_outputs.USER_POOL_ID, self.user_pool.user_pool_id, "The people's user pool")
        stack_output(
            self,
            stack_outputs.USER_POOL_CLIENT_ID,
            self.client.user_pool_client_id,
            "The console's app client (USER_PASSWORD_AUTH, no secret)",
        )

    def _build_pool(self, config: InfraConfig) -> cognito.UserPool:
        pool = cognito.UserPool(
            self,
            "Pool",
            user_pool_name=f"{config.stack_name}-people",
            self_sign_up_enabled=False,  # AllowAdminCreateUserOnly
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),  # a changed email signs in once verified
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                password_history_size=5,
                temp_password_validity=cdk.Duration.days(3),
            ),
            user_invitation=cognito.UserInvitationConfig(
                email_subject="Your callscribe console account",
                email_body=(
                    "You have been given access to the callscribe console. Sign in with {username} "
                    "and the temporary password {####} within three days; you will be asked to "
                    "choose your own. Ask whoever added you for the console's address."
                ),
            ),
            mfa=cognito.Mfa.OFF,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=_THREAT_PROTECTION[config.people_threat_protection],
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            pool,
            ("AwsSolutions-COG2",),
            "MFA is off: the console's sign-in answers Cognito's new-password challenge but not an MFA "
            "one, so a person who enrolled a factor could no longer sign in. Threat protection (Plus "
            "plan) scores every sign-in and, with peopleThreatProtection=enforced, blocks high-risk "
            "ones and compromised passwords; docs/deploy.md says what turning MFA on takes.",
        )
        return pool

    def _build_client(self) -> cognito.UserPoolClient:
        return self.user_pool.add_client(
            "Console",
            user_pool_client_name="console",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True),  # with ALLOW_REFRESH_TOKEN_AUTH
            disable_o_auth=True,
            enable_token_revocation=True,
            prevent_user_existence_errors=True,
            id_token_validity=TOKEN_VALIDITY,
            access_token_validity=TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        )

    def _build_groups(self) -> None:
        cognito.UserPoolGroup(
            self,
            "Viewers",
            user_pool=self.user_pool,
            group_name=VIEWERS,
            description="May read calls, transcripts, summaries and costs, and follow the live feed",
            precedence=20,
        )
        cognito.UserPoolGroup(
            self,
            "Supervisors",
            user_pool=self.user_pool,
            group_name=SUPERVISORS,
            description="May also listen to recordings (a supervisor is a viewer too)",
            precedence=10,
        )

    def _build_risk_configuration(self) -> None:
        """What threat protection does when enforced (in audit mode it only scores and counts):
        a sign-in or password change with a known-compromised password is blocked, a high-risk
        sign-in is blocked, medium and low ones are let through and logged. No notification email
        (it would need SES): the person sees a refused sign-in and asks their admin."""
        risk = cognito.CfnUserPoolRiskConfigurationAttachment
        let_through = risk.AccountTakeoverActionTypeProperty(event_action="NO_ACTION", notify=False)
        risk(
            self,
            "RiskConfiguration",
            user_pool_id=self.user_pool.user_pool_id,
            client_id="ALL",
            compromised_credentials_risk_configuration=risk.CompromisedCredentialsRiskConfigurationTypeProperty(
                actions=risk.CompromisedCredentialsActionsTypeProperty(event_action="BLOCK"),
                event_filter=["SIGN_IN", "PASSWORD_CHANGE"],
            ),
            account_takeover_risk_configuration=risk.AccountTakeoverRiskConfigurationTypeProperty(
                actions=risk.AccountTakeoverActionsTypeProperty(
                    high_action=risk.AccountTakeoverActionTypeProperty(event_action="BLOCK", notify=False),
                    medium_action=let_through,
                    low_action=let_through,
                ),
            ),
        )
