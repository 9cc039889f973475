"""The optional Route 53 alias both public endpoints (API custom domain, stream ALB) share."""

from __future__ import annotations

from aws_cdk import aws_route53 as route53
from constructs import Construct

from infra.components.config import InfraConfig


def alias_in_hosted_zone(
    scope: Construct, config: InfraConfig, record_name: str | None, target: route53.RecordTarget
) -> None:
    """Point `record_name` at `target` when the context names a hosted zone; otherwise DNS is the
    operator's (docs/deploy.md), and nothing is created."""
    if not (config.hosted_zone_id and config.hosted_zone_name and record_name):
        return
    zone = route53.HostedZone.from_hosted_zone_attributes(
        scope, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
    )
    route53.ARecord(scope, "Alias", zone=zone, record_name=record_name, target=target)
