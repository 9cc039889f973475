"""cdk-nag 3.x acknowledgments: every one names its rule and carries its reason.

cdk-nag 3 reports through CDK's validation framework (`cdk.Validations`); the 2.x `NagSuppressions`
calls are ignored there, so this helper is the one way constructs in this app accept a finding.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from constructs import IConstruct


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id cdk-nag prints in IAM5 findings (`<LogicalId.Arn>/…`)."""
    stack = cdk.Stack.of(construct)
    cfn = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    if not isinstance(cfn, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return str(stack.resolve(stack.get_logical_id(cfn)))


def arn_wildcard(construct: IConstruct, suffix: str) -> str:
    """The IAM5 finding id for `<construct's ARN><suffix>`, e.g. arn_wildcard(table, "/index/*")."""
    return f"AwsSolutions-IAM5[Resource::<{logical_id(construct)}.Arn>{suffix}]"


def acknowledge(scope: IConstruct, rules: Iterable[str], reason: str) -> None:
    """Accept `rules` (e.g. "AwsSolutions-IAM5[Resource::*]") on `scope` and everything under it."""
    for rule in rules:
        rule_id = rule if rule.startswith("AwsSolutions::") else f"AwsSolutions::{rule}"
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
