"""The streamer: Fargate tasks behind an ALB that Twilio Media Streams connect to over wss://
(through CloudFront by default, or straight to the ALB on the operator's own domain).

Built for calls that last: the ALB idle timeout outlives silences, a deploy or scale-in first
deregisters a task and lets its calls run for the deregistration delay (ECS sends SIGTERM only after
it), then the container's own drain window (DRAIN_SECONDS, within the ECS stop timeout) ends
the rest cleanly. Scaling follows the streamer's own ActiveCalls metric, with CPU as a backstop.
Long (~440 lines): network, load balancer, edge, task, service, targets, scaling and outputs are
one unit, each step a method of its own.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.bedrock import INVOKE_STREAM, BedrockModels
from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.dns import alias_in_hosted_zone
from infra.components.edge import CloudFrontEdge
from infra.components.nag import acknowledge
from infra.components.outputs import stack_output
from infra.components.secrets import ProductSecrets
from infra.components.storage import new_log_group
from infra.dependencies import REPO_ROOT
from shared.telemetry import METRICS_NAMESPACE, SERVICE_DIMENSION
from streamer.contract import ACTIVE_CALLS, HEALTH_PATH, MEDIA_PATH, SERVICE_NAME

# Proxies that append to X-Forwarded-For before the streamer: CloudFront then the ALB, or the ALB
# alone. The streamer counts waiting connections per the address the first of them saw.
TRUSTED_PROXY_HOPS = {"cloudfront": 2, "alb": 1}

CONTAINER_PORT = 8080
# The image needs the streamer and the shared package; everything else stays out of the build
# context (and out of the asset hash, so editing docs does not rebuild the image).
_IMAGE_EXCLUDES = [
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "**/__pycache__",
    "tests",
    "docs",
    "bench",
    "infra",
    "functions",
    ".callscribe",
    "build",
]


def streamer_metric(name: str, statistic: str = "Average", period_minutes: int = 1) -> cloudwatch.Metric:
    """One of the streamer's own metrics (EMF, the product namespace, dimension `service`)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={SERVICE_DIMENSION: SERVICE_NAME},
        statistic=statistic,
        period=cdk.Duration.minutes(period_minutes),
    )


def _image(config: InfraConfig) -> ecs.ContainerImage:
    """Built from streamer/Dockerfile at deploy (never at synth), or a prebuilt image from context."""
    if config.streamer_image_uri:
        return ecs.ContainerImage.from_registry(config.streamer_image_uri)
    return ecs.ContainerImage.from_asset(
        str(REPO_ROOT),
        file="streamer/Dockerfile",
        exclude=_IMAGE_EXCLUDES,
        platform=ecr_assets.Platform.LINUX_ARM64
        if config.streamer_arm64
        else ecr_assets.Platform.LINUX_AMD64,
    )


class StreamerService(Construct):
    """The streamer's network, load balancer, tasks and scaling.

    `__init__` is the table of contents; each step builds one layer on the ones before it. Construct
    ids stay directly under this construct (no intermediate constructs), so the logical ids of a
    deployed stack never move; the CloudFront edge, added later, is one construct of its own (`Edge`).
    The public side is `_build_edge`, `_stream_url` and `_build_ingress`: which of the three paths
    (`config.edge`: CloudFront, or the ALB with or without a certificate) changes only them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        secrets: ProductSecrets,
        access_logs: s3.IBucket,
        bedrock: BedrockModels | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bedrock = bedrock  # None: the agent asks Anthropic's API with the Anthropic secret's key
        self.vpc, self.cluster = self._build_network(config)
        self.load_balancer = self._build_load_balancer(config, access_logs)
        self.edge = self._build_edge(config, access_logs)
        self.stream_url = self._stream_url(config)
        self.task_definition, self.container = self._build_task(config, tables, secrets)
        self.service = self._build_service(config)
        self.target_group = self._build_targets(config)
        self.listener = self._build_ingress(config)
        self._build_autoscaling(config)
        self._build_outputs(scope)
        self._acknowledge_task()

    def _build_network(self, config: InfraConfig) -> tuple[ec2.Vpc, ecs.Cluster]:
        """Two AZs, tasks in private subnets behind NAT (Deepgram and Anthropic are on the internet;
        Bedrock's regional endpoint is reached through it too)."""
        flow_logs = new_log_group(self, "FlowLogs", config.log_retention)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="tasks",
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                    cidr_mask=22,
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        # DynamoDB writes of every segment stay off the NAT gateway (cheaper, one less hop).
        vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        return vpc, cluster

    def _build_load_balancer(
        self, config: InfraConfig, access_logs: s3.IBucket
    ) -> elbv2.ApplicationLoadBalancer:
        """Created before the tasks: without a stream domain the tasks' STREAM_URL is its DNS name."""
        load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            idle_timeout=cdk.Duration.seconds(config.alb_idle_timeout_seconds),
            drop_invalid_header_fields=True,
            # the default, stated: the streamer trusts the X-Forwarded-For entry the ALB appends
            # (TRUSTED_PROXY_HOPS below); `preserve` or `remove` would leave it counting the wrong source
            xff_header_processing_mode=elbv2.XffHeaderProcessingMode.APPEND,
        )
        load_balancer.log_access_logs(access_logs, prefix="streamer-alb")
        if config.edge == "alb":
            acknowledge(
                load_balancer,
                ("AwsSolutions-EC23",),
                "Twilio Media Streams connect from Twilio's cloud, whose addresses are not a fixed "
                "list; each upgrade is authenticated by its X-Twilio-Signature. Only the listener "
                "ports are open.",
            )
        return load_balancer

    def _build_edge(self, config: InfraConfig, access_logs: s3.IBucket) -> CloudFrontEdge | None:
        """Before the tasks: with CloudFront, their STREAM_URL is the distribution's name. The
        distribution depends on the ALB only, so ALB -> distribution -> task -> service has no cycle."""
        if config.edge != "cloudfront":
            return None
        return CloudFrontEdge(
            self, "Edge", config=config, load_balancer=self.load_balancer, access_logs=access_logs
        )

    def _stream_url(self, config: InfraConfig) -> str:
        """The URL Twilio dials and signs: the tasks verify upgrades against exactly this string."""
        if self.edge is not None:
            return self.edge.stream_url
        if config.stream_domain_name:
            return f"wss://{config.stream_domain_name}{MEDIA_PATH}"
        cdk.Annotations.of(self).add_warning_v2(
            "callscribe:insecure-stream",
            "streamEdge=alb without streamDomainName/streamCertificateArn: the streamer is plain "
            "ws:// on port 80, which Twilio refuses. Fine for a smoke test; for real calls set both, "
            "or leave streamEdge unset for CloudFront's wss://.",
        )
        return f"ws://{self.load_balancer.load_balancer_dns_name}{MEDIA_PATH}"

    def _build_task(
        self, config: InfraConfig, tables: DataTables, secrets: ProductSecrets
    ) -> tuple[ecs.FargateTaskDefinition, ecs.ContainerDefinition]:
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=config.streamer_cpu,
            memory_limit_mib=config.streamer_memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=(
                    ecs.CpuArchitecture.ARM64 if config.streamer_arm64 else ecs.CpuArchitecture.X86_64
                ),
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        log_group = new_log_group(self, "Logs", config.log_retention)
        self.log_group = log_group
        container = task.add_container(
            "streamer",
            image=_image(config),
            environment=self._environment(config, tables, secrets),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="streamer",
                log_group=log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            port_mappings=[ecs.PortMapping(container_port=CONTAINER_PORT, name="media")],
            stop_timeout=cdk.Duration.seconds(config.stop_timeout_seconds),
            readonly_root_filesystem=True,
        )
        # No container health check: /healthz is not-ready while a task is full, and a failing
        # container check kills the task at once. The ALB check on /healthz (below) stops routing new
        # calls to a full task; ECS then replaces it too, but through deregistration (its calls keep
        # running for the deregistration delay, then the drain window). Autoscaling at
        # activeCallsTargetPercent keeps tasks below full; docs/deploy.md explains the trade-off.
        # The root filesystem is read-only; scratch space is a task-local /tmp.
        task.add_volume(name="tmp")
        container.add_mount_points(
            ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False)  # noqa: S108
        )
        self._grant_task(task, tables, secrets)
        return task, container

    def _environment(
        self, config: InfraConfig, tables: DataTables, secrets: ProductSecrets
    ) -> dict[str, str]:
        """Names, URLs and secret ARNs only: secret values are read by the code (docs/configuration.md)."""
        return {
            "PORT": str(CONTAINER_PORT),
            "STREAM_URL": self.stream_url,
            "MAX_CALLS": str(config.max_calls_per_task),
            "TRUSTED_PROXY_HOPS": str(TRUSTED_PROXY_HOPS[config.edge]),
            "DRAIN_SECONDS": str(config.drain_seconds),
            "CALLS_TABLE": tables.calls.table_name,
            "TRANSCRIPTS_TABLE": tables.transcripts.table_name,
            **config.deepgram_environment(),
            **config.redaction_environment(),
            "TWILIO_API_BASE_URL": config.twilio_api_base_url,
            "TWILIO_SECRET_ARN": secrets.twilio.secret_arn,
            "DEEPGRAM_SECRET_ARN": secrets.deepgram.secret_arn,
            **self._model_environment(config, secrets),
            "AGENT_TOOLS_SECRET_ARN": secrets.agent_tools.secret_arn,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "AWS_REGION": cdk.Stack.of(self).region,
            **({"CALL_ROUTES": config.call_routes} if config.call_routes else {}),
        }

    def _model_environment(self, config: InfraConfig, secrets: ProductSecrets) -> dict[str, str]:
        """Where agent mode asks Claude: the Anthropic secret, or Bedrock's Region and model."""
        if self._bedrock is not None:
            return self._bedrock.environment("AGENT_MODEL", self._bedrock.agent)
        assert secrets.anthropic is not None  # created unless Claude is on Bedrock
        return {
            "ANTHROPIC_SECRET_ARN": secrets.anthropic.secret_arn,
            **({"AGENT_MODEL": config.agent_model} if config.agent_model else {}),
        }

    def _grant_task(
        self, task: ecs.FargateTaskDefinition, tables: DataTables, secrets: ProductSecrets
    ) -> None:
        """Exactly what the streamer calls, so the task role is the streamer's code read as IAM."""
        # The streamer's ports on shared/dal: StreamClaims and the call record's writes only update
        # the call record (conditional on the stream's claim), OwnedSegmentWrites puts one segment at a
        # time (conditional on its owner). No bus: the outbox announces the write that ends the transcript.
        tables.calls.grant(task.task_role, "dynamodb:UpdateItem")
        tables.transcripts.grant(task.task_role, "dynamodb:PutItem")
        tables.acknowledge_index_access(task)
        for secret in (secrets.twilio, secrets.deepgram, secrets.anthropic, secrets.agent_tools):
            if secret is not None:  # no Anthropic secret on Bedrock
                secret.grant_read(task.task_role)
        if self._bedrock is not None:  # the agent streams every model round
            self._bedrock.grant_invoke(self, task.task_role, self._bedrock.agent, [INVOKE_STREAM])
        # In case the streamer publishes metrics by API rather than EMF logs: its namespace only.
        task.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )

    def _build_service(self, config: InfraConfig) -> ecs.FargateService:
        return ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=config.min_tasks,
            min_healthy_percent=100,  # a deploy adds new tasks before draining old ones
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=cdk.Duration.seconds(60),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            enable_execute_command=False,
        )

    def _build_targets(self, config: InfraConfig) -> elbv2.ApplicationTargetGroup:
        """The deregistration delay is how long a deploy or scale-in lets a task's calls run on."""
        return elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=self.vpc,
            port=CONTAINER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=cdk.Duration.seconds(config.deregistration_delay_seconds),
            load_balancing_algorithm_type=elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=cdk.Duration.seconds(10),
                timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
            targets=[
                self.service.load_balancer_target(
                    container_name=self.container.container_name,
                    container_port=CONTAINER_PORT,
                )
            ],
        )

    def _build_ingress(self, config: InfraConfig) -> elbv2.ApplicationListener:
        """How callers' media reaches the targets: through CloudFront only (the ALB refuses anything
        else), HTTPS on the stream domain (port 80 redirects), or plain HTTP on the ALB's own name
        when the ALB is chosen without a certificate."""
        if self.edge is not None:
            return self.edge.admit_from_cloudfront(self.load_balancer, self.target_group)
        if config.stream_domain_name and config.stream_certificate_arn:
            listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(config.stream_certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
            )
            self.load_balancer.add_redirect(source_port=80, target_port=443)
            alias_in_hosted_zone(
                self,
                config,
                config.stream_domain_name,
                route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.load_balancer)),
            )
            return listener
        return self.load_balancer.add_listener(
            "Http",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            default_target_groups=[self.target_group],
        )

    def _build_autoscaling(self, config: InfraConfig) -> None:
        """On the streamer's own ActiveCalls (what a task can hold), with CPU as a backstop."""
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.min_tasks, max_capacity=config.max_tasks
        )
        scaling.scale_to_track_custom_metric(
            "ActiveCalls",
            metric=streamer_metric(ACTIVE_CALLS),
            target_value=max(1, config.max_calls_per_task * config.active_calls_target_percent // 100),
            scale_out_cooldown=cdk.Duration.seconds(60),
            scale_in_cooldown=cdk.Duration.minutes(10),  # scale-in drains calls: do it slowly
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=config.cpu_target_percent,
            scale_out_cooldown=cdk.Duration.seconds(60),
            scale_in_cooldown=cdk.Duration.minutes(10),
        )

    def _build_outputs(self, scope: Construct) -> None:
        stack_output(
            scope,
            "StreamUrl",
            self.stream_url,
            "Media stream URL the webhooks put in TwiML (Twilio needs wss://)",
        )
        stack_output(
            scope,
            "StreamLoadBalancerDns",
            self.load_balancer.load_balancer_dns_name,
            "The streamer's ALB: it answers 403 to anything that does not come through CloudFront"
            if self.edge is not None
            else "Point streamDomainName's DNS record (CNAME/alias) here",
        )
        stack_output(scope, "StreamerClusterName", self.cluster.cluster_name, "The streamer's ECS cluster")
        stack_output(
            scope,
            "StreamerServiceName",
            self.service.service_name,
            "The streamer's ECS service (aws ecs update-service --force-new-deployment restarts its tasks)",
        )
        stack_output(scope, "StreamerLogGroupName", self.log_group.log_group_name, "The streamer's logs")

    def _acknowledge_task(self) -> None:
        acknowledge(
            self.task_definition,
            ("AwsSolutions-IAM5[Resource::*]",),
            "cloudwatch:PutMetricData has no resource-level permissions; the statement is limited "
            "to the callscribe namespace by the cloudwatch:namespace condition.",
        )
        acknowledge(
            self.task_definition,
            ("AwsSolutions-ECS2",),
            "The environment holds resource names, URLs and secret ARNs only; secret values are "
            "fetched by the code from Secrets Manager at start-up.",
        )
