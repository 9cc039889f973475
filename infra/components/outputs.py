"""Stack outputs: the names an operator's commands take (docs/deploy.md, "Stack outputs").

Every output is declared on the stack itself, whichever construct owns the value, so its key is
exactly the one given here: a CfnOutput declared inside a construct gets a hashed logical id that
nobody can type or document. docs/deploy.md lists every key; tests/infra/test_outputs.py keeps the
two in step and checks that each `$(out Key)` in docs/ names a real output.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct


def stack_output(scope: Construct, key: str, value: str, description: str) -> cdk.CfnOutput:
    return cdk.CfnOutput(cdk.Stack.of(scope), key, value=value, description=description)


def pascal(name: str) -> str:
    """`console_api` -> `ConsoleApi`: a function's folder name as an output key's prefix."""
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))
