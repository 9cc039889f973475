"""The whole product on one machine: every AWS and vendor endpoint replaced by a local part.

`LocalStack` starts moto, the stand-ins, the local event plumbing (outbox, dispatchers), the
streamer subprocess and the people's side (`people_stack.py`), and runs each Lambda in this process
through its entry point's code (`create_handler`), with settings built from `lambda_env` (what CDK
would set) and its runtime built on the first invocation and kept, as one warm container.
Must keep: production code unchanged, pointed at the local parts by configuration only; this
process's environment left alone (only `aws_local` points the AWS SDK at moto); a real vendor
used instead of its stand-in when its key is set (Deepgram, Anthropic; never Bedrock). Which local
part stands in for what, and how faithfully: docs/local.md, "The parts, and how faithful each one is".
Over 700 lines because it wires every part and owns their lifecycle (start order, URLs, teardown);
each part is a module of its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from callscribe_local.aws_local import LOCAL_ACCOUNT, LOCAL_REGION, LocalAws, LocalNames, local_aws
from callscribe_local.calls_client import get_call
from callscribe_local.dead_letters import DISPATCHERS
from callscribe_local.deepgram_server import OUTAGE_PATH
from callscribe_local.dispatcher import Delivery, Handler, LocalDispatcher, LocalLambdaContext, RetryPolicy
from callscribe_local.loop_thread import LoopThread
from callscribe_local.offline_agent import OFFLINE_AGENT_MODEL
from callscribe_local.outbox import LocalOutbox, StreamDelivery, StreamPolicy
from callscribe_local.people_stack import PeopleSide, start_people_side
from callscribe_local.phone import StreamHook
from callscribe_local.recognizer import RecognizerFactory
from callscribe_local.settlement import RECORDINGS, SUMMARIES
from shared.anthropic_clients import ModelProvider
from shared.events import RecordingCompleted, TranscriptCompleted, TranscriptReconciled
from shared.telemetry import METRICS_NAMESPACE
from streamer.contract import HEALTH_PATH, MEDIA_PATH, SERVICE_NAME

if TYPE_CHECKING:  # the parts are imported when the stack starts them
    from callscribe_local.anthropic_server import AnthropicServer
    from callscribe_local.apigw import LocalApiGateway
    from callscribe_local.bedrock_server import BedrockServer
    from callscribe_local.deepgram_server import DeepgramStandIn
    from callscribe_local.team_app import TeamApp
    from callscribe_local.twilio_rest import TwilioRestStandIn

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent

TEST_ACCOUNT_SID = "AC" + "1" * 32  # Twilio's shape; no real account behind it
TEST_AUTH_TOKEN = "local-auth-token-" + "0" * 15  # signs the local webhooks and the stream upgrade
LOCAL_DEEPGRAM_KEY = "local-deepgram-key"
LOCAL_ANTHROPIC_KEY = "local-anthropic-key"
OFFLINE_SUMMARY_MODEL = "offline-extractive"
# The local stack's scorecard (EVALUATION_QUESTIONS unless the environment sets its own): two questions
# the offline summariser can answer from keywords, with the transcript lines it matched as evidence.
DEMO_EVALUATION_QUESTIONS = json.dumps(
    [
        {"id": "greeted", "question": "Did the agent greet the caller?", "type": "yes_no"},
        {
            "id": "reason",
            "question": "Reason for calling",
            "type": "choice",
            "choices": ["billing", "appointment", "technical_support", "cancellation", "other"],
        },
    ]
)
FORWARD_TO = "+14155550199"  # the demo forwards every call here: two parties, both tracks streamed
TWILIO_NUMBER = "+14155550100"  # the product's number: the simulated phone calls it, POST /calls uses it
LISTEN_NUMBER = "+14155550166"  # listen-in: streamed and recorded, then handed to the team app's TwiML
AGENT_NUMBER = (
    "+14155550177"  # routed to the voice agent (`callscribe call --to agent`), transfers to FORWARD_TO
)
# Recordings reconciled at once (Lambda would run more; the local recogniser's decoders bound it)
RECORDINGS_CONCURRENCY = 2
LIVE_CALL_DECODERS = 2  # kept free for a live call's two tracks
# The Deepgram TTS stand-in speaks a tone as long as the text would take to say (~16 characters a
# second), so a local agent's turns, marks and barge-ins take as long as real speech.
SPEECH_BYTES_PER_CHAR = 500


def default_call_routes() -> dict[str, Any]:
    """Every number forwards (two parties, both tracks streamed) except AGENT_NUMBER: the agent (and
    LISTEN_NUMBER, whose listen route to the team app the stack adds once that app has its URL)."""
    return {"*": {"forwardTo": FORWARD_TO}, AGENT_NUMBER: {"agent": {"transferTo": FORWARD_TO}}}


class StackObserver(Protocol):
    def step(self, name: str, detail: str) -> None: ...


class _Quiet:
    def step(self, name: str, detail: str) -> None:
        return None


@dataclass
class StackOptions:
    names: LocalNames = field(default_factory=LocalNames)
    call_routes: Mapping[str, Any] = field(default_factory=default_call_routes)
    deepgram_api_key: str | None = None  # set: real Deepgram; None: the pocketsphinx stand-in
    # What the Deepgram stand-in hears with (live and pre-recorded); None: pocketsphinx. Tests plug
    # a scripted one in to have a call say exactly what they check for.
    recognizer_factory: RecognizerFactory | None = None
    anthropic_api_key: str | None = None  # set: real Anthropic; None: the offline summariser
    # Where the Lambdas and the streamer ask the model (MODEL_PROVIDER): Anthropic's API (its
    # stand-in, or the real one with a key), or Bedrock (always its stand-in, with the summariser)
    model_provider: ModelProvider = ModelProvider.ANTHROPIC
    api_port: int = 0
    streamer_port: int = 0
    moto_port: int = 0
    log_dir: Path | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy.lambda_async)
    stream_policy: StreamPolicy = field(default_factory=StreamPolicy)  # the outbox's event source mapping
    streamer_start_timeout: float = 30.0
    # The streamer's REPLAY_BUFFER_SECONDS (None: the product's default, 30 s). A Deepgram outage
    # shorter than this leaves no gap in the live transcript (the streamer replays the audio).
    replay_buffer_seconds: float | None = None
    # CALL_PRICES for the Lambdas that write a call's cost, as the deployed stack sets it from context
    # `prices` (None: the code's dated defaults, or CALL_PRICES from the environment when it is set)
    call_prices: Mapping[str, Any] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # This number gets a listen route to the stack's team app (unless `call_routes` routes it
    # already); None: no team app, no listen route
    listen_number: str | None = LISTEN_NUMBER
    capture_stdout: bool = False  # a terminal UI owns stdout: route the handlers' prints to the log

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StackOptions:
        env = os.environ if environ is None else environ
        chosen = env.get("MODEL_PROVIDER") or ModelProvider.ANTHROPIC.value
        if chosen not in {provider.value for provider in ModelProvider}:
            raise ValueError(f"MODEL_PROVIDER={chosen!r}: expected one of {', '.join(ModelProvider)}")
        overrides.setdefault("model_provider", ModelProvider(chosen))
        return cls(
            deepgram_api_key=env.get("DEEPGRAM_API_KEY") or None,
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or None,
            **overrides,
        )


class StackError(RuntimeError):
    """A local part failed to start; the message says which and where its log is."""


def free_port() -> int:
    """A port the OS says is free now (the streamer must know its public URL before it starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StackUrls:
    api: str
    stream: str
    aws: str
    deepgram: str
    anthropic: str  # the model's endpoint: the Anthropic API's, or Bedrock's runtime (model_provider)
    log_dir: str
    twilio: str = ""  # the Twilio REST stand-in: POST /calls, and recordings

    def as_dict(self) -> dict[str, str]:
        return dict(vars(self))


class LocalStack:
    """`with LocalStack(options) as stack:` everything runs; on exit everything stops."""

    def __init__(self, options: StackOptions | None = None, observer: StackObserver | None = None) -> None:
        self.options = options or StackOptions()
        self.observer = observer or _Quiet()
        self.account_sid = TEST_ACCOUNT_SID
        self.auth_token = TEST_AUTH_TOKEN
        self.deliveries: list[Delivery] = []  # the summaries' (the demo reads these)
        self.recording_deliveries: list[Delivery] = []
        self.outbox_deliveries: list[StreamDelivery] = []
        self._exit = ExitStack()
        self.aws: LocalAws | None = None
        # The Lambdas' environment: this process's, plus what the stack sets for them (`_stack_env`).
        self.lambda_env: dict[str, str] = {}
        self.api: LocalApiGateway | None = None
        self.dispatcher: LocalDispatcher | None = None
        self.recordings_dispatcher: LocalDispatcher | None = None
        self.outbox: LocalOutbox | None = None
        self.sweeper: Handler | None = None
        self.streamer: subprocess.Popen[bytes] | None = None
        self._streamer_signalled = False
        self.twilio_rest: TwilioRestStandIn | None = None
        self.team_app: TeamApp | None = None
        self.people: PeopleSide | None = None
        self.deepgram_standin: DeepgramStandIn | None = None  # None: the real Deepgram is used
        self.recognizer_factory: RecognizerFactory | None = None  # what the stand-in hears with
        # the model's stand-in, whose `requests` are what the model was sent; None: the real Anthropic API
        self.model_server: AnthropicServer | BedrockServer | None = None
        self._deepgram_loop: LoopThread | None = None
        self.urls: StackUrls | None = None
        self.log_dir = Path(self.options.log_dir or tempfile.mkdtemp(prefix="callscribe-local-"))
        self.deepgram_model = "deepgram (real)" if self.options.deepgram_api_key else ""
        self.summary_model = "anthropic (real)" if self._real_anthropic else OFFLINE_SUMMARY_MODEL

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._route_logs()
        self.aws = self._exit.enter_context(local_aws(self.options.names, port=self.options.moto_port))
        self.observer.step("aws", f"moto (DynamoDB, EventBridge, SQS, S3) at {self.aws.endpoint}")

        self.people = start_people_side(self._exit, self.aws.endpoint, self.options.names, LOCAL_REGION)
        self.observer.step(
            "people",
            f"Cognito pool {self.people.pool.pool_id} (user {self.people.user}), live feed "
            f"{self.people.feed.realtime_url}, read API {self.people.api.url}",
        )
        self.observer.step("console", f"the web console at {self.people.console.url}")
        deepgram_url, deepgram_key = self._start_deepgram()
        model_url, model_env = self._start_model()
        twilio_url = self._start_twilio_rest()
        self._start_team_app()

        from callscribe_local.apigw import LocalApiGateway

        api = LocalApiGateway(self._webhooks_handler(), stage="local", port=self.options.api_port)
        self.api = api
        self._exit.callback(api.stop)  # bound already: its port is the webhooks' base URL
        streamer_port = self.options.streamer_port or free_port()
        stream_url = f"ws://127.0.0.1:{streamer_port}{MEDIA_PATH}"
        stack_env = self._stack_env(
            stream_url=stream_url,
            api_url=api.url,
            twilio_url=twilio_url,
            deepgram=(deepgram_url, deepgram_key),
            model=model_env,
        )
        self.lambda_env = {
            **os.environ,
            **stack_env,
            "OUTBOX_DEAD_LETTER_QUEUE_URL": LocalOutbox.create_dead_letter_queue(),
        }
        # The streamer process takes seconds to import and bind: it boots while the rest starts here,
        # and the stack is up once it answers its health check (below).
        health = self._spawn_streamer(streamer_port, stream_url, stack_env)
        api.start()
        self.observer.step("api", f"API Gateway (REST, stage local) at {api.url}")
        self._start_outbox()

        self.dispatcher = LocalDispatcher(
            self.options.names.event_bus_name,
            self._summaries_handler(),
            policy=self.options.retry_policy,
            name=DISPATCHERS[SUMMARIES],
            detail_types=(TranscriptCompleted.detail_type, TranscriptReconciled.detail_type),
            on_delivery=self.deliveries.append,
        )
        self.dispatcher.start()
        self._exit.callback(self.dispatcher.stop)
        self.observer.step(
            "dispatcher",
            f"rule 'Transcript Completed' / 'Transcript Reconciled' → SQS → summaries handler "
            f"({self.options.retry_policy.max_attempts} attempts, then DLQ)",
        )
        self._start_recordings_dispatcher()
        self.sweeper = self._sweeper_handler()
        self._await_streamer(health, stream_url)
        self.urls = StackUrls(
            api=api.url,
            stream=stream_url,
            aws=self.aws.endpoint,
            deepgram=deepgram_url,
            anthropic=model_url,
            log_dir=str(self.log_dir),
            twilio=twilio_url,
        )
        return self

    def stop(self) -> None:
        # What takes a while to stop is asked first, all at once, so the waits overlap: each
        # dispatcher ends its current long poll (up to a second) while the streamer drains. The
        # exit stack then joins them in the usual order.
        for dispatcher in (self.recordings_dispatcher, self.dispatcher):
            if dispatcher is not None:
                dispatcher.request_stop()
        if self.outbox is not None:
            self.outbox.request_stop()
        self._signal_streamer()
        self._exit.close()

    def sweep(self) -> dict[str, Any]:
        """Run the sweeper once, in this process, as its schedule would (what `callscribe sweep` does
        against a running stack): what it settled and re-drove. Re-driven events reach the
        dispatchers like any other."""
        assert self.sweeper is not None, "the stack is not running"
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": LOCAL_ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": LOCAL_REGION,
            "resources": [],
            "detail": {},
        }
        context = LocalLambdaContext(function_name="callscribe-sweeper-local", timeout_seconds=240.0)
        result: dict[str, Any] = self.sweeper(event, context)
        return result

    # -- the Lambdas: each entry point's code, bound to settings read from `lambda_env` -----------

    def _container(self, build: Callable[[Mapping[str, str]], T]) -> Callable[[], T]:
        """What one Lambda container keeps: its runtime, built from the stack's `lambda_env` on the
        first invocation (a bad value fails that invocation, as in AWS), then shared."""
        return cache(lambda: build(self.lambda_env))

    def _webhooks_handler(self) -> Handler:
        from functions.webhooks.app import create_handler
        from functions.webhooks.dependencies import build_services
        from functions.webhooks.settings import WebhookSettings

        return create_handler(self._container(lambda env: build_services(WebhookSettings.from_env(env))))

    def _summaries_handler(self) -> Handler:
        from functions.summaries.app import build_runtime, create_handler
        from functions.summaries.settings import SummarySettings

        return create_handler(self._container(lambda env: build_runtime(SummarySettings.from_env(env))))

    def _recordings_handler(self) -> Handler:
        from functions.recordings.app import build_service, create_handler
        from functions.recordings.settings import RecordingSettings

        return create_handler(self._container(lambda env: build_service(RecordingSettings.from_env(env))))

    def _outbox_handler(self) -> Handler:
        from functions.outbox.app import build_outbox, create_handler
        from functions.outbox.settings import OutboxSettings

        return create_handler(self._container(lambda env: build_outbox(OutboxSettings.from_env(env))))

    def _sweeper_handler(self) -> Handler:
        from functions.sweeper.app import build_service, create_handler
        from functions.sweeper.settings import SweeperSettings

        return create_handler(self._container(lambda env: build_service(SweeperSettings.from_env(env))))

    # -- parts -------------------------------------------------------------------------------------

    def _start_outbox(self) -> None:
        """The calls table's stream → the outbox handler (what the event source mapping does)."""
        self.outbox = LocalOutbox(
            self.options.names.calls_table,
            self._outbox_handler(),
            dead_letter_queue_url=self.lambda_env["OUTBOX_DEAD_LETTER_QUEUE_URL"],
            policy=self.options.stream_policy,
            on_delivery=self.outbox_deliveries.append,
        ).start()
        self._exit.callback(self.outbox.stop)
        policy = self.options.stream_policy
        self.observer.step(
            "outbox",
            f"calls table stream → outbox handler (polled every {policy.poll_interval * 1000:.0f} ms; "
            f"{policy.max_retry_attempts} retries, bisected, then DLQ) → the bus",
        )

    def _start_recordings_dispatcher(self) -> None:
        """`Recording Completed` → the recordings handler (copy, batch transcription, reconciliation)."""
        self.recordings_dispatcher = LocalDispatcher(
            self.options.names.event_bus_name,
            self._recordings_handler(),
            policy=self.options.retry_policy,
            name=DISPATCHERS[RECORDINGS],
            detail_types=(RecordingCompleted.detail_type,),
            on_delivery=self.recording_deliveries.append,
            timeout_seconds=900.0,
            concurrency=recordings_concurrency(self.recognizer_factory),
        )
        self.recordings_dispatcher.start()
        self._exit.callback(self.recordings_dispatcher.stop)
        self.observer.step(
            "recordings",
            f"rule 'Recording Completed' → SQS → recordings handler "
            f"({self.options.retry_policy.max_attempts} attempts, then DLQ; "
            f"{self.recordings_dispatcher.concurrency} at once)",
        )

    def _start_deepgram(self) -> tuple[str, str]:
        if self.options.deepgram_api_key:
            url = os.environ.get("DEEPGRAM_URL", "wss://api.deepgram.com")
            self.observer.step("deepgram", f"real Deepgram at {url} (DEEPGRAM_API_KEY is set)")
            return url, self.options.deepgram_api_key
        from callscribe_local.deepgram_server import DeepgramStandIn, SpeakOptions
        from callscribe_local.sphinx_recognizer import MODEL_NAME, SphinxRecognizerFactory

        factory: RecognizerFactory
        if self.options.recognizer_factory is not None:
            factory, model_name = self.options.recognizer_factory, "scripted"
        else:
            sphinx = SphinxRecognizerFactory()
            self._exit.callback(sphinx.close)
            factory, model_name = sphinx, MODEL_NAME
        loop = LoopThread("deepgram-standin")
        self._exit.callback(loop.close)
        standin = DeepgramStandIn(factory, host="127.0.0.1", port=0, api_key=LOCAL_DEEPGRAM_KEY)
        standin.speak = SpeakOptions(bytes_per_char=SPEECH_BYTES_PER_CHAR)
        loop.run(standin.start())
        self._exit.callback(lambda: loop.run(standin.stop()))
        self.deepgram_standin, self._deepgram_loop = standin, loop
        self.recognizer_factory = factory
        self.deepgram_model = model_name
        self.observer.step(
            "deepgram",
            f"Deepgram stand-in at {standin.url} (offline: {model_name}; live WebSocket and "
            f"pre-recorded POST {standin.http_url}/v1/listen)",
        )
        return str(standin.url), LOCAL_DEEPGRAM_KEY

    @property
    def _real_anthropic(self) -> bool:
        return self.options.model_provider is ModelProvider.ANTHROPIC and bool(self.options.anthropic_api_key)

    def _start_model(self) -> tuple[str, dict[str, str]]:
        """The model's endpoint, and what the Lambdas and the streamer are told to reach it with."""
        from callscribe_local.offline_agent import OfflineModels

        if self.options.model_provider is ModelProvider.BEDROCK:
            from callscribe_local.bedrock_server import BedrockServer

            bedrock = BedrockServer(OfflineModels(), region=LOCAL_REGION).start()
            self._exit.callback(bedrock.stop)
            self.model_server = bedrock
            self.observer.step(
                "bedrock",
                f"Amazon Bedrock stand-in at {bedrock.base_url} (SigV4, {LOCAL_REGION}; "
                f"offline: {OFFLINE_SUMMARY_MODEL} summaries, {OFFLINE_AGENT_MODEL} agent)",
            )
            return bedrock.base_url, {
                "MODEL_PROVIDER": ModelProvider.BEDROCK.value,
                "ANTHROPIC_BEDROCK_BASE_URL": bedrock.base_url,
                "BEDROCK_REGION": LOCAL_REGION,
            }
        if self._real_anthropic:
            assert self.options.anthropic_api_key is not None
            url = os.environ.get("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
            self.observer.step("anthropic", f"real Anthropic API at {url} (ANTHROPIC_API_KEY is set)")
            return url, {"ANTHROPIC_API_KEY": self.options.anthropic_api_key}
        from callscribe_local.anthropic_server import AnthropicServer

        server = AnthropicServer(OfflineModels(), api_key=LOCAL_ANTHROPIC_KEY).start()
        self._exit.callback(server.stop)
        self.model_server = server
        self.observer.step(
            "anthropic",
            f"Anthropic stand-in at {server.base_url} (offline: {OFFLINE_SUMMARY_MODEL} summaries, "
            f"{OFFLINE_AGENT_MODEL} agent)",
        )
        return server.base_url, {
            "ANTHROPIC_API_KEY": LOCAL_ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": server.base_url,
            "SUMMARY_MODEL": OFFLINE_SUMMARY_MODEL,
            "AGENT_MODEL": OFFLINE_AGENT_MODEL,
        }

    def _start_twilio_rest(self) -> str:
        """POST /calls reaches this instead of api.twilio.com (it records the call; no phone rings)."""
        from callscribe_local.twilio_rest import TwilioRestStandIn

        twilio = TwilioRestStandIn(self.account_sid, self.auth_token).start()
        self._exit.callback(twilio.stop)
        self.twilio_rest = twilio
        self.observer.step(
            "twilio", f"Twilio REST stand-in at {twilio.base_url} (POST /calls lands here; recordings served)"
        )
        return twilio.base_url

    def _start_team_app(self) -> None:
        """The team's own TwiML app a listen route hands calls to (its own greeting, then a <Dial>)."""
        if self.options.listen_number is None:
            return
        from callscribe_local.team_app import TeamApp

        app = TeamApp(self.auth_token).start()
        self._exit.callback(app.stop)
        self.team_app = app
        self.observer.step(
            "team app", f"a team's TwiML app at {app.twiml_url} ({self.options.listen_number} listens in)"
        )

    def _call_routes(self) -> dict[str, Any]:
        """`call_routes`, plus the listen route of `listen_number` to the team app when it has none."""
        routes = dict(self.options.call_routes)
        number = self.options.listen_number
        if self.team_app is not None and number is not None and number not in routes:
            routes[number] = {"listen": {"twimlUrl": self.team_app.twiml_url}}
        return routes

    def _spawn_streamer(self, port: int, stream_url: str, stack_env: Mapping[str, str]) -> str:
        """Start `python -m streamer` (not waiting for it); the URL of its health check."""
        env = {
            **os.environ,
            **stack_env,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "STREAM_URL": stream_url,
            "DRAIN_SECONDS": "10",
            **(self.people.streamer_env() if self.people is not None else {}),
            **(
                {"REPLAY_BUFFER_SECONDS": str(self.options.replay_buffer_seconds)}
                if self.options.replay_buffer_seconds is not None
                else {}
            ),
            # the simulated phone may stream faster than real time (`--speed`): 100 messages a
            # second per unit of speed, where the production limit allows 250 (2.5x)
            "MAX_MESSAGES_PER_SECOND": "10000",
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
        log_path = self.log_dir / "streamer.log"
        log = self._exit.enter_context(log_path.open("ab"))
        self.streamer = subprocess.Popen(
            [sys.executable, "-m", "streamer"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        self._exit.callback(self._stop_streamer)
        return f"http://127.0.0.1:{port}{HEALTH_PATH}"

    def _await_streamer(self, health: str, stream_url: str) -> None:
        """Until the spawned streamer answers its health check (StackError if it exits or is late)."""
        assert self.streamer is not None
        log_path = self.log_dir / "streamer.log"
        deadline = time.monotonic() + self.options.streamer_start_timeout
        while time.monotonic() < deadline:
            if self.streamer.poll() is not None:
                raise StackError(f"the streamer exited with {self.streamer.returncode}; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=1.0).status_code == 200:
                    detail = f"python -m streamer at {stream_url} (pid {self.streamer.pid})"
                    self.observer.step("streamer", detail)
                    return
            time.sleep(0.1)
        raise StackError(f"the streamer did not answer {health} in time; see {log_path}")

    def _signal_streamer(self) -> None:
        """SIGTERM once, as ECS sends it: the streamer finishes its calls (drain) and exits 0."""
        if self.streamer is None or self._streamer_signalled or self.streamer.poll() is not None:
            return
        self._streamer_signalled = True
        self.streamer.terminate()

    def _stop_streamer(self) -> None:
        """SIGTERM (unless `stop` sent it already), then wait for the drain; SIGKILL if it hangs."""
        if self.streamer is None or self.streamer.poll() is not None:
            return
        self._signal_streamer()
        try:
            self.streamer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.streamer.kill()
            self.streamer.wait(timeout=5)

    # -- environment and logs ----------------------------------------------------------------------

    def _stack_env(
        self,
        *,
        stream_url: str,
        api_url: str,
        twilio_url: str,
        deepgram: tuple[str, str],
        model: Mapping[str, str],
    ) -> dict[str, str]:
        """What the stack sets for its Lambdas and its streamer, as CDK sets it for the deployed ones
        (over this process's environment, which is not changed)."""
        assert self.aws is not None
        deepgram_url, deepgram_key = deepgram
        return {
            **self.aws.env(),
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "STREAM_URL": stream_url,
            "WEBHOOK_BASE_URL": api_url,
            "CALL_ROUTES": json.dumps(self._call_routes()),
            **({"LISTEN_ALLOWED_URLS": self.team_app.twiml_url} if self.team_app is not None else {}),
            "TWILIO_API_BASE_URL": twilio_url,
            "TWILIO_FROM_NUMBER": TWILIO_NUMBER,
            # the recordings Lambda hears with the same Deepgram as the streamer (its pre-recorded
            # POST /v1/listen on the stand-in's host), with the same model; the stand-in hears with
            # pocketsphinx, not nova-3: segments' `source` says so
            "DEEPGRAM_URL": deepgram_url,
            "DEEPGRAM_API_KEY": deepgram_key,
            **({} if self.options.deepgram_api_key else {"DEEPGRAM_MODEL": self.deepgram_model}),
            **model,
            "EVALUATION_QUESTIONS": os.environ.get("EVALUATION_QUESTIONS") or DEMO_EVALUATION_QUESTIONS,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            # the sweeper runs only when asked (`callscribe sweep`): then at once, no patience, and
            # a call with no final status is asked about at the Twilio stand-in at once
            "SWEEP_AFTER_SECONDS": os.environ.get("SWEEP_AFTER_SECONDS", "0"),
            "SWEEP_TWILIO_AFTER_SECONDS": os.environ.get("SWEEP_TWILIO_AFTER_SECONDS", "0"),
            **self._prices_env(),
            **self.options.extra_env,
        }

    def _prices_env(self) -> dict[str, str]:
        prices = self.options.call_prices
        return {"CALL_PRICES": json.dumps(dict(prices))} if prices else {}

    def _route_logs(self) -> None:
        """Keep a terminal UI readable: the in-process handlers' JSON logs go to `lambdas.log`.

        With `capture_stdout`, this process's stdout (where Powertools prints EMF metrics) and its
        warnings go there too; a UI keeps its own handle on the real terminal.
        """
        from shared.observability import logger

        if logger.service == "service_undefined":  # in Lambda each function names itself
            logger.append_keys(service="callscribe-local")
            self._exit.callback(lambda: logger.append_keys(service="service_undefined"))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        path = self.log_dir / "lambdas.log"
        stream = self._exit.enter_context(path.open("a", encoding="utf-8", buffering=1))
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            previous = handler.setStream(stream)
            self._exit.callback(lambda: handler.setStream(previous) if previous is not None else None)
        if self.options.capture_stdout:
            real_stdout = sys.stdout
            sys.stdout = stream
            self._exit.callback(lambda: setattr(sys, "stdout", real_stdout))
            logging.captureWarnings(True)
            warnings_logger = logging.getLogger("py.warnings")
            file_handler = logging.StreamHandler(stream)
            warnings_logger.addHandler(file_handler)
            warnings_logger.propagate = False
            self._exit.callback(lambda: warnings_logger.removeHandler(file_handler))
            self._exit.callback(lambda: logging.captureWarnings(False))

    # -- conveniences for the demo, the CLI and tests ----------------------------------------------

    def env(self) -> dict[str, str]:
        """What another process needs to talk to this stack (the CLI's `local up` prints it)."""
        assert self.aws is not None
        assert self.urls is not None
        return {
            **self.aws.env(),
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "STREAM_URL": self.urls.stream,
            "WEBHOOK_BASE_URL": self.urls.api,
        }

    def deepgram_outage_hooks(self, windows: Sequence[tuple[float, float]]) -> tuple[StreamHook, ...]:
        """Phone stream hooks that take the Deepgram stand-in's live API down for each (start, end)
        window of stream seconds (see `outage_hooks`)."""
        assert self.urls is not None
        if self.options.deepgram_api_key:
            raise StackError("DEEPGRAM_API_KEY is set: only the local stand-in can have an outage")
        return outage_hooks(self.urls.deepgram, LOCAL_DEEPGRAM_KEY, windows)

    def get_call_json(self, call_sid: str) -> dict[str, Any] | None:
        """GET /calls/{callSid} through the local API, as a client of the product would (every
        transcript page, so the record holds the whole transcript)."""
        assert self.urls is not None
        return get_call(self.urls.api, call_sid)


def recordings_concurrency(recognizer: RecognizerFactory | None) -> int:
    """Reconciliations at once: as many as the recogniser's decoders hold beside one live call (a
    two-channel recording holds one decoder per channel while it is transcribed), at most
    RECORDINGS_CONCURRENCY; that many for a recogniser without a pool, or real Deepgram (None)."""
    pool = getattr(recognizer, "decoders", None)
    if pool is None:
        return RECORDINGS_CONCURRENCY
    size = int(pool.size)
    return max(1, min(RECORDINGS_CONCURRENCY, (size - LIVE_CALL_DECODERS) // 2))


def outage_hooks(
    deepgram_url: str, api_key: str, windows: Sequence[tuple[float, float]]
) -> tuple[StreamHook, ...]:
    """Stream hooks for `SimulatedPhone`: at each window's start the Deepgram stand-in at
    `deepgram_url` (ws://… or http://…) drops its open live connections and refuses new ones
    (503); at its end it accepts again. Over HTTP (`POST /_local/outage`), so it works as well for
    a stack running in another process (`callscribe local up`)."""
    base = deepgram_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).rstrip("/")

    def post(doc: dict[str, Any]) -> Callable[[], Coroutine[Any, Any, None]]:
        async def action() -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(
                    f"{base}{OUTAGE_PATH}", json=doc, headers={"Authorization": f"Token {api_key}"}
                )
            if response.status_code != 200:
                raise StackError(f"the Deepgram stand-in refused the outage: HTTP {response.status_code}")

        return action

    hooks: list[StreamHook] = []
    for start, end in windows:
        if not 0 <= start < end:
            raise ValueError(f"an outage window needs 0 <= start < end, not {start}:{end}")
        hooks.append((start, post({"action": "begin", "status": 503, "drop": "net0000"})))
        hooks.append((end, post({"action": "end"})))
    return tuple(hooks)
