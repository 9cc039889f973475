"""The default stream endpoint: a CloudFront distribution in front of the streamer's ALB.

Twilio Media Streams only connect to `wss://`, and an ALB can only serve TLS for a domain someone
owns. CloudFront serves `wss://<id>.cloudfront.net` with its own certificate, so the first deploy
works without a domain: WebSockets pass through (the upgrade is a GET, forwarded with every viewer
header but Host, never cached) and reach the ALB over HTTP. The ALB takes traffic only from
CloudFront: its security group admits the AWS-managed origin-facing prefix list alone, and its
listener forwards only requests carrying the secret origin header this construct generates (anything
else gets a fixed 403). docs/deploy.md compares this with the own-domain path.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.nag import acknowledge
from infra.components.outputs import stack_output
from infra.components.storage import LOG_LIFECYCLE, new_log_group, private_bucket
from streamer.contract import MEDIA_PATH

ORIGIN_HEADER = "X-Origin-Verify"
# One AWS-managed prefix list per region (a region-specific id) holds CloudFront's origin-facing
# addresses. In a security group it weighs as many rules as its maximum entries (55 when this was
# written), against a default quota of 60 inbound rules per group: the ALB's group holds only it.
ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
# The origin leg is plain HTTP (see CFR5 below), so the listener CloudFront reaches is port 80.
ORIGIN_PORT = 80
# Seconds CloudFront waits for the origin's next bytes (also for the 101 that completes an upgrade),
# and keeps an idle origin connection. 60 is the most every account accepts without a quota request;
# the streamer's WebSocket pings (every 20 s, the websockets library's default) keep both far away.
ORIGIN_READ_TIMEOUT_SECONDS = 60
ORIGIN_KEEPALIVE_SECONDS = 60
_PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}
# CloudFront delivers no standard logs to buckets in opt-in Regions (CloudFront Developer Guide,
# "Choosing an Amazon S3 bucket for your standard logs"); there the distribution logs nowhere rather
# than fail to deploy. Checked 2026-11 against AWS's list of opt-in Regions: verify before relying.
OPT_IN_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
    }
)


class CloudFrontEdge(Construct):
    """The distribution, its origin secret, its log bucket and the origin-facing prefix list id.

    The streamer's listener and security group are the ALB's, so `StreamerService._build_ingress`
    applies `admit_from_cloudfront` to them once its target group exists.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        load_balancer: elbv2.ApplicationLoadBalancer,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        # not "-" and six characters at the end: Secrets Manager reads those as the ARN suffix
        self._origin_secret_name = f"{config.stack_name}/stream-origin-value"
        self.origin_secret = self._build_origin_secret()
        self.log_bucket = self._build_log_bucket(access_logs)
        self.distribution = self._build_distribution(config, load_balancer)
        self.stream_url = f"wss://{self.distribution.distribution_domain_name}{MEDIA_PATH}"
        self.origin_facing_prefix_list_id = self._look_up_origin_facing_prefix_list(config)
        self._build_outputs()

    @property
    def origin_header_value(self) -> str:
        """A CloudFormation dynamic reference: the template holds the secret's ARN, never its value."""
        return self.origin_secret.secret_value.unsafe_unwrap()

    def admit_from_cloudfront(
        self,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
    ) -> elbv2.ApplicationListener:
        """The ALB's one listener: 403 unless the request came through this distribution, to the
        media path."""
        listener = load_balancer.add_listener(
            "Http",
            port=ORIGIN_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,  # no 0.0.0.0/0 rule: only the prefix list below
            default_action=elbv2.ListenerAction.fixed_response(
                403, content_type="text/plain", message_body="forbidden\n"
            ),
        )
        listener.add_target_groups(
            "FromCloudFront",
            priority=1,
            conditions=[
                elbv2.ListenerCondition.http_header(ORIGIN_HEADER, [self.origin_header_value]),
                # Only the media path: /healthz is for the ALB's own checks, which skip listeners.
                elbv2.ListenerCondition.path_patterns([MEDIA_PATH, f"{MEDIA_PATH}/"]),
            ],
            target_groups=[target_group],
        )
        rule = listener.node.find_child("FromCloudFrontRule")  # what add_target_groups named it
        if not isinstance(rule, elbv2.ApplicationListenerRule):
            raise TypeError(f"{rule.node.path} is not the listener rule add_target_groups creates")
        stack_output(
            self,
            "StreamOriginRuleArn",
            rule.listener_rule_arn,
            "The ALB listener rule that checks the origin header (aws elbv2 modify-rule when rotating it)",
        )
        load_balancer.connections.allow_from(
            ec2.Peer.prefix_list(self.origin_facing_prefix_list_id),
            ec2.Port.tcp(ORIGIN_PORT),
            "CloudFront origin-facing servers only",
        )
        return listener

    def _build_outputs(self) -> None:
        stack_output(
            self,
            "StreamDistributionId",
            self.distribution.distribution_id,
            "The CloudFront distribution Twilio's media streams come through",
        )
        stack_output(
            self,
            "StreamOriginSecretName",
            self._origin_secret_name,
            f"The {ORIGIN_HEADER} value's secret",
        )
        stack_output(
            self,
            "StreamOriginSecretArn",
            self.origin_secret.secret_arn,
            f"The {ORIGIN_HEADER} value's secret",
        )
        if self.log_bucket is not None:
            stack_output(
                self,
                "StreamLogsBucketName",
                self.log_bucket.bucket_name,
                "CloudFront's standard logs (streamer-cdn/)",
            )

    def _build_origin_secret(self) -> secretsmanager.Secret:
        """Letters and digits only: an ALB header condition takes up to 128 characters, compares
        them case-insensitively and reads `*` and `?` as wildcards."""
        secret = secretsmanager.Secret(
            self,
            "OriginSecret",
            secret_name=self._origin_secret_name,
            description=f"callscribe: {ORIGIN_HEADER} value CloudFront sends to the streamer ALB, "
            "which refuses requests without it (plain string)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True,
                include_space=False,
                password_length=64,
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,  # nothing depends on it outside this stack
        )
        acknowledge(
            secret,
            ("AwsSolutions-SMG4",),
            "The origin header value is resolved into the distribution and the ALB listener rule at "
            "deploy; a rotation Lambda would change the secret without updating either, and every new "
            "stream would get 403. docs/deploy.md gives the manual order (rule takes both values, then "
            "CloudFront, then the rule drops the old one).",
        )
        return secret

    def _build_log_bucket(self, access_logs: s3.IBucket) -> s3.Bucket | None:
        """CloudFront standard logs are written with object ACLs, which the shared access-log bucket
        disables (bucket owner enforced, as AWS recommends): they get a bucket of their own."""
        if cdk.Stack.of(self).region in OPT_IN_REGIONS:
            return None
        return private_bucket(  # SSE-S3: standard logs cannot use SSE-KMS unaided
            self,
            "Logs",
            lifecycle_rules=LOG_LIFECYCLE,
            access_logs=access_logs,
            access_logs_prefix="streamer-cdn-logs-bucket/",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        )

    def _build_distribution(
        self, config: InfraConfig, load_balancer: elbv2.ApplicationLoadBalancer
    ) -> cloudfront.Distribution:
        origin = origins.LoadBalancerV2Origin(
            load_balancer,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            http_port=ORIGIN_PORT,
            custom_headers={ORIGIN_HEADER: self.origin_header_value},
            read_timeout=cdk.Duration.seconds(ORIGIN_READ_TIMEOUT_SECONDS),
            keepalive_timeout=cdk.Duration.seconds(ORIGIN_KEEPALIVE_SECONDS),
            # No response_completion_timeout: unset, CloudFront puts no cap on a response's total
            # time, and a call's WebSocket is one response lasting the whole call.
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="callscribe: Twilio Media Streams (wss) to the streamer",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,  # Twilio: wss only
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,  # the upgrade is a GET
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                # Every viewer header (X-Twilio-Signature, Upgrade, Sec-WebSocket-*) and the query
                # string; Host becomes the ALB's name, which the streamer never checks: it verifies
                # the signature against STREAM_URL.
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                compress=False,  # nothing cacheable or compressible passes here
            ),
            http_version=cloudfront.HttpVersion.HTTP1_1,  # WebSockets through CloudFront are HTTP/1.1
            price_class=_PRICE_CLASSES[config.stream_price_class],
            enable_logging=self.log_bucket is not None,
            log_bucket=self.log_bucket,
            log_file_prefix="streamer-cdn/" if self.log_bucket else None,
        )
        self._acknowledge_distribution(distribution)
        return distribution

    def _look_up_origin_facing_prefix_list(self, config: InfraConfig) -> str:
        """The prefix list's id differs per region and synth must work offline (no context lookup):
        a custom resource reads it at deploy. Its Lambda (CDK's AwsCustomResource provider) gets a
        role of ours that writes its own log group, rather than the AWS managed basic role."""
        log_group = new_log_group(self, "LookupLogs", config.log_retention)
        role = iam.Role(
            self,
            "LookupRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="callscribe: reads the CloudFront origin-facing prefix list id at deploy",
        )
        log_group.grant_write(role)
        describe = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [ORIGIN_FACING_PREFIX_LIST]}]},
            physical_resource_id=cr.PhysicalResourceId.from_response("PrefixLists.0.PrefixListId"),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "OriginFacingPrefixList",
            on_create=describe,
            on_update=describe,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,  # the runtime's SDK has the call; no npm at deploy
            role=role,
            log_group=log_group,
        )
        acknowledge(
            lookup,
            ("AwsSolutions-IAM5[Resource::*]",),
            "ec2:DescribeManagedPrefixLists supports no resource-level permissions; the policy allows "
            "that one read-only action.",
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")

    def _acknowledge_distribution(self, distribution: cloudfront.Distribution) -> None:
        if self.log_bucket is None:
            acknowledge(
                distribution,
                ("AwsSolutions-CFR3",),
                "CloudFront delivers no standard logs to buckets in opt-in Regions such as this stack's; "
                "the ALB's access logs still record every request that reaches the streamer.",
            )
        acknowledge(
            distribution,
            ("AwsSolutions-CFR1",),
            "Twilio opens media streams from its own media edges in several countries; the streamer "
            "accepts only upgrades signed with the account's auth token, wherever they come from.",
        )
        acknowledge(
            distribution,
            ("AwsSolutions-CFR2",),
            "Only WebSocket upgrades pass (GET, never cached); each is authenticated by its "
            "X-Twilio-Signature at the streamer, and WAF sees only the upgrade, never the media "
            "frames. A web ACL for CloudFront must live in us-east-1; attach one if policy needs it.",
        )
        acknowledge(
            distribution,
            ("AwsSolutions-CFR4",),
            "This path exists to work without a domain, so it uses the default *.cloudfront.net "
            "certificate, whose security policy cannot be raised; Twilio negotiates TLS 1.2+. The "
            "own-domain path (streamEdge=alb) enforces a TLS 1.2+ policy.",
        )
        acknowledge(
            distribution,
            ("AwsSolutions-CFR5",),
            "The origin is the ALB's own *.elb.amazonaws.com name, for which no certificate can be "
            "issued, so CloudFront reaches it over HTTP; the ALB admits only CloudFront's origin-facing "
            "addresses carrying the secret origin header. For TLS to the ALB use the own-domain path.",
        )
