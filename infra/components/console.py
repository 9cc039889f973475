"""The console in AWS: its files in a private bucket, served by a CloudFront distribution that also
routes `/api/*` to the people's read API, with a `config.json` made from this stack's values.

What a change must keep: `console/` is shipped as it is with a generated `config.json` (never a
local one), every file `no-cache` and each deploy invalidating the cache; the bucket is reached only
through origin access control; `/api/*` is never cached and forwards `Authorization`; both
behaviours send the console's CSP and the headers the local console server sends.
Why: docs/infra.md, "The console's hosting"; context keys: docs/deploy.md.
Long (~370 lines): the bucket, the distribution, its headers, the deployment and their cdk-nag
acknowledgements refer to each other and are one unit.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as deployment
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.dns import alias_in_hosted_zone
from infra.components.edge import OPT_IN_REGIONS
from infra.components.feed import LiveFeed
from infra.components.nag import acknowledge, logical_id
from infra.components.outputs import stack_output
from infra.components.people import PeopleDirectory
from infra.components.people_api import STAGE, PeopleApi
from infra.components.recordings import RecordingsBucket
from infra.components.storage import ABORT_INCOMPLETE_UPLOADS, LOG_LIFECYCLE, new_log_group, private_bucket
from infra.dependencies import REPO_ROOT
from shared import stack_outputs

CONSOLE_DIR = REPO_ROOT / "console"
CONFIG_FILE = "config.json"  # written by infra (here) or by the local console server, never committed
API_PATH = f"/{STAGE}"  # the console's `apiUrl`: same origin, so no CORS
_PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}
_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"
# The wildcard actions of BucketDeployment's grants (aws-cdk-lib's own grant sets).
_DEPLOY_ACTIONS = ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*")


class ConsoleMissingError(FileNotFoundError):
    """`console/` is not in the checkout: nothing to deploy (synth stops)."""


def content_security_policy(*, cognito_origin: str, realtime_host: str, recordings_host: str) -> str:
    """The console's CSP (CONSOLE_INTERFACE.md): its own files only, no inline script or eval; it
    talks to itself (`/api`, `config.json`), Cognito and the feed, and plays recordings from S3."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {cognito_origin} wss://{realtime_host}",
            f"media-src 'self' https://{recordings_host}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class ConsoleSite(Construct):
    """`bucket`, `distribution`, `url`; the deployment of `console/` and its `config.json`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        access_logs: s3.IBucket,
        people: PeopleDirectory,
        feed: LiveFeed,
        api: PeopleApi,
        recordings: RecordingsBucket,
        console_dir: Path = CONSOLE_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (console_dir / "index.html").is_file():
            raise ConsoleMissingError(
                f"{console_dir}/index.html is missing: the console's files are deployed from there"
            )
        stack = cdk.Stack.of(self)
        self.cognito_url = f"https://cognito-idp.{stack.region}.{stack.url_suffix}/"
        self.bucket = self._build_bucket(access_logs)
        self.log_bucket = self._build_log_bucket(access_logs)
        headers = self._build_headers(feed, recordings)
        self.distribution = self._build_distribution(config, api, headers)
        self.url = f"https://{config.console_domain_name or self.distribution.distribution_domain_name}"
        self._deploy(config, console_dir, people, feed)
        self._build_outputs(scope)

    def _build_bucket(self, access_logs: s3.IBucket) -> s3.Bucket:
        bucket = private_bucket(
            self,
            "Files",
            lifecycle_rules=(ABORT_INCOMPLETE_UPLOADS,),
            access_logs=access_logs,
            access_logs_prefix="console-bucket/",
        )
        bucket.apply_removal_policy(cdk.RemovalPolicy.DESTROY)  # a copy of console/: nothing to keep
        return bucket

    def _build_log_bucket(self, access_logs: s3.IBucket) -> s3.Bucket | None:
        """CloudFront standard logs need object ACLs, which the shared access-log bucket disables."""
        if cdk.Stack.of(self).region in OPT_IN_REGIONS:
            return None
        return private_bucket(
            self,
            "Logs",
            lifecycle_rules=LOG_LIFECYCLE,
            access_logs=access_logs,
            access_logs_prefix="console-cdn-logs-bucket/",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        )

    def _build_headers(
        self, feed: LiveFeed, recordings: RecordingsBucket
    ) -> cloudfront.ResponseHeadersPolicy:
        csp = content_security_policy(
            cognito_origin=self.cognito_url.rstrip("/"),
            realtime_host=feed.api.realtime_dns,
            recordings_host=recordings.bucket.bucket_regional_domain_name,
        )
        return cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="callscribe console: CSP and security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(730), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy", value=_PERMISSIONS_POLICY, override=True
                    ),
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Opener-Policy", value="same-origin", override=True
                    ),
                ]
            ),
        )

    def _build_distribution(
        self, config: InfraConfig, api: PeopleApi, headers: cloudfront.ResponseHeadersPolicy
    ) -> cloudfront.Distribution:
        stack = cdk.Stack.of(self)
        api_origin = origins.HttpOrigin(
            f"{api.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            # no origin path: `/api/calls` reaches stage `api`, resource `/calls`
        )
        domain, certificate_arn = config.console_domain_name, config.console_certificate_arn
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
            if domain and certificate_arn
            else None
        )
        own_domain = domain is not None and certificate is not None
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="callscribe: the people's console and its /api",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(
                    self.bucket, origin_access_levels=[cloudfront.AccessLevel.READ]
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            additional_behaviors={
                f"{API_PATH}/*": cloudfront.BehaviorOptions(
                    origin=api_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                    compress=True,
                ),
            },
            domain_names=[domain] if domain and certificate else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if own_domain else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=_PRICE_CLASSES[config.console_price_class],
            web_acl_id=config.console_web_acl_arn,
            enable_logging=self.log_bucket is not None,
            log_bucket=self.log_bucket,
            log_file_prefix="console-cdn/" if self.log_bucket else None,
        )
        if own_domain:
            alias_in_hosted_zone(
                self,
                config,
                domain,
                route53.RecordTarget.from_alias(route53_targets.CloudFrontTarget(distribution)),
            )
        self._acknowledge_distribution(config, distribution, own_domain)
        return distribution

    def _deploy(
        self, config: InfraConfig, console_dir: Path, people: PeopleDirectory, feed: LiveFeed
    ) -> None:
        """console/ and config.json into the bucket, then the distribution's cache invalidated. The
        copying Lambda is CDK's (BucketDeployment's provider), with a role and log group of ours."""
        runtime_config = {
            "region": cdk.Stack.of(self).region,
            "userPoolId": people.user_pool.user_pool_id,
            "userPoolClientId": people.client.user_pool_client_id,
            "cognitoUrl": self.cognito_url,
            "apiUrl": API_PATH,
            "feed": {"httpHost": feed.http_host, "realtimeUrl": feed.realtime_url},
        }
        log_group = new_log_group(self, "DeployLogs", config.log_retention)
        role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="callscribe: copies console/ and its config.json into the console's bucket",
        )
        log_group.grant_write(role)
        deployed = deployment.BucketDeployment(
            self,
            "Deploy",
            destination_bucket=self.bucket,
            sources=[
                deployment.Source.asset(str(console_dir), exclude=[CONFIG_FILE, ".*"]),
                deployment.Source.json_data(CONFIG_FILE, runtime_config),
            ],
            prune=True,  # files removed from console/ leave the bucket
            retain_on_delete=False,  # the stack's deletion empties the bucket, then deletes it
            cache_control=[deployment.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=["/*"],
            role=role,
            log_group=log_group,
            memory_limit=256,
        )
        self._acknowledge_deployment(deployed, role)

    def _build_outputs(self, scope: Construct) -> None:
        stack_output(
            scope, stack_outputs.CONSOLE_URL, self.url, "The console (sign in with a person's email)"
        )
        stack_output(
            scope,
            "ConsoleDistributionId",
            self.distribution.distribution_id,
            "The console's CloudFront distribution (invalidate /* after changing its files by hand)",
        )
        stack_output(
            scope, "ConsoleBucketName", self.bucket.bucket_name, "The console's files (a copy of console/)"
        )
        if self.log_bucket is not None:
            stack_output(
                scope, "ConsoleLogsBucketName", self.log_bucket.bucket_name, "The console's CloudFront logs"
            )

    def _acknowledge_distribution(
        self, config: InfraConfig, distribution: cloudfront.Distribution, own_domain: bool
    ) -> None:
        if self.log_bucket is None:
            acknowledge(
                distribution,
                ("AwsSolutions-CFR3",),
                "CloudFront delivers no standard logs to buckets in opt-in Regions such as this stack's; "
                "the people's API keeps its own access logs of every /api request.",
            )
        acknowledge(
            distribution,
            ("AwsSolutions-CFR1",),
            "The people who use the console sign in from wherever they work; every read needs a Cognito "
            "token of the stack's pool, and the static files hold no data.",
        )
        if not config.console_web_acl_arn:
            acknowledge(
                distribution,
                ("AwsSolutions-CFR2",),
                "No web ACL by default (a CloudFront one lives in us-east-1 and costs a monthly fee per ACL "
                "and rule): the files are public code, every /api request is checked by the Cognito "
                "authoriser and throttled, and sign-in is Cognito's. consoleWebAclArn attaches one.",
            )
        if not own_domain:
            acknowledge(
                distribution,
                ("AwsSolutions-CFR4",),
                "Served on the distribution's own *.cloudfront.net name, whose default certificate's "
                "security policy cannot be raised (browsers negotiate TLS 1.2+ anyway); "
                "consoleDomainName with consoleCertificateArn serves it with TLSv1.2_2021.",
            )

    def _acknowledge_deployment(self, deployed: deployment.BucketDeployment, role: iam.Role) -> None:
        """CDK's BucketDeployment provider: a singleton Lambda aws-cdk-lib maintains, run only while
        deploying, with the grants it makes itself (on the asset bucket, this bucket, CloudFront)."""
        stack = cdk.Stack.of(self)
        assets = f"arn:aws:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-{stack.region}/*"
        acknowledge(
            role,
            (
                *(f"AwsSolutions-IAM5[Action::{action}]" for action in _DEPLOY_ACTIONS),
                f"AwsSolutions-IAM5[Resource::{assets}]",
                f"AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/*]",
                "AwsSolutions-IAM5[Resource::*]",
            ),
            "BucketDeployment's own grants: read of the CDK asset it copies from, write and delete of "
            "this console bucket's objects (it prunes files gone from console/; the keys are the "
            "console's file names), and CloudFront invalidations, which it grants on every "
            "distribution although it invalidates only this one.",
        )
        for child in stack.node.children:  # the provider function is the stack's, shared by deployments
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(
                    child,
                    ("AwsSolutions-L1",),
                    "BucketDeployment's provider Lambda: its runtime is chosen and updated by aws-cdk-lib, "
                    "not this app, and it runs only during deploys.",
                )
