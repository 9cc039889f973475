"""One Lambda "container" for integration tests: the entry point's own code bound to a runtime built
from an environment mapping on the first invocation, as Lambda builds it from its environment.

`LambdaContainer(build, app.create_handler, env)`: `build(env)` makes the runtime (settings read by
the tier's `from_env`, adapters built), `create_handler` is the Lambda module's, so the code under
test is the deployed handler's. `configure(NAME=value)` starts a new container with other variables
(None unsets one); no test changes this process's environment or resets a module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Generic, TypeVar

R = TypeVar("R")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaContainer(Generic[R]):
    def __init__(
        self,
        build: Callable[[Mapping[str, str]], R],
        create_handler: Callable[[Callable[[], R]], Handler],
        env: Mapping[str, str],
    ) -> None:
        self._build = build
        self._create_handler = create_handler
        self.env = dict(env)
        self.runtime: Callable[[], R]
        self.handler: Handler
        self.configure()

    def configure(self, **changes: str | None) -> None:
        """A new container whose environment has these variables set (None: unset)."""
        for name, value in changes.items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value
        env = dict(self.env)
        self.runtime = cache(lambda: self._build(env))
        self.handler = self._create_handler(self.runtime)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The current container's handler (a `LocalApiGateway` or a dispatcher can front this)."""
        return self.handler(event, context)
