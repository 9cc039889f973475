"""Where the people's sign-in and the live feed are, for `callscribe users add` and `callscribe tail`.

Two places: the running local stack (its state file names moto's pool, the AppSync Events stand-in
and the local user), or a deployed stack, found by name through CloudFormation's DescribeStacks and
the outputs `shared/stack_outputs.py` names. Errors are `PeopleError`s whose message is one line for
the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from callscribe_local.cognito import UserPool, add_user, new_password
from shared import stack_outputs
from shared.access import GROUPS


class PeopleError(Exception):
    """What went wrong, in one line."""


@dataclass(frozen=True)
class PeopleEndpoints:
    pool: UserPool
    feed_http_host: str  # the Event API's HTTP host (the realtime auth header names it)
    feed_realtime_url: str
    local_user: str | None = None  # the local stack's person (None: a deployed stack)
    local_password: str | None = None

    @property
    def local(self) -> bool:
        return self.pool.endpoint is not None


def from_stack_outputs(stack_name: str, region: str, outputs: Mapping[str, str]) -> PeopleEndpoints:
    """A deployed stack's endpoints from its outputs; PeopleError naming the first one missing."""
    needed = (
        stack_outputs.USER_POOL_ID,
        stack_outputs.USER_POOL_CLIENT_ID,
        stack_outputs.FEED_HTTP_HOST,
        stack_outputs.FEED_REALTIME_URL,
    )
    for name in needed:
        if not outputs.get(name):
            raise PeopleError(
                f"stack {stack_name} has no output {name}: deploy a version with the console first"
            )
    pool = UserPool(
        region=region,
        pool_id=outputs[stack_outputs.USER_POOL_ID],
        client_id=outputs[stack_outputs.USER_POOL_CLIENT_ID],
    )
    return PeopleEndpoints(
        pool=pool,
        feed_http_host=outputs[stack_outputs.FEED_HTTP_HOST],
        feed_realtime_url=outputs[stack_outputs.FEED_REALTIME_URL],
    )


def deployed(stack_name: str, region: str | None) -> PeopleEndpoints:
    """The endpoints of the deployed stack `stack_name` (the caller's AWS credentials and region)."""
    try:
        cloudformation = boto3.client("cloudformation", region_name=region)
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        actual_region = str(cloudformation.meta.region_name)
    except ClientError as exc:
        raise PeopleError(f"stack {stack_name}: {exc.response['Error'].get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise PeopleError(f"cannot reach CloudFormation: {exc}") from exc
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
    return from_stack_outputs(stack_name, actual_region, outputs)


def add_person(endpoints: PeopleEndpoints, email: str, group_name: str) -> str:
    """Add `email` to the group (`viewers` or `supervisors`); what happened, as a line to print.

    Supervisors are viewers too (the recordings right is on top of reading calls). Locally the
    person gets a new password, printed; in AWS Cognito emails them a temporary one.
    """
    groups = [GROUPS["viewers"]] if group_name == "viewers" else [GROUPS["viewers"], GROUPS["supervisors"]]
    password = new_password() if endpoints.local else None
    try:
        created = add_user(endpoints.pool, email, groups, password=password)
    except ClientError as exc:
        raise PeopleError(f"Cognito refused: {_message(exc)}") from exc
    except BotoCoreError as exc:
        raise PeopleError(f"cannot reach Cognito: {exc}") from exc
    joined = " and ".join(groups)
    if password is not None:
        account = "new account" if created else "existing account, password reset"
        return f"{email} is in {joined} ({account}); password {password}"
    if created:
        return f"{email} added to {joined}; Cognito has emailed them a temporary password"
    return f"{email} already had an account; now in {joined}"


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
