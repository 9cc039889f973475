"""The console's local web server over real HTTP: files only from its folder (no listing, no way out,
no dotfiles, only known types), the runtime config, Cognito's public operations forwarded to moto
(nothing else), the API callable handed the request as it came, and the security headers on every
answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callscribe_local.aws_local import LocalAws
from callscribe_local.console_server import CONSOLE_DIR, ConsoleConfig, ConsoleServer

pytestmark = pytest.mark.integration

CONFIG = ConsoleConfig(
    region="us-east-1",
    user_pool_id="us-east-1_example",
    user_pool_client_id="client123",
    feed_http_host="127.0.0.1:4510",
    feed_realtime_url="ws://127.0.0.1:4510/event/realtime",
)


class RecordingApi:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.fail = False

    def __call__(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if self.fail:
            raise RuntimeError("the API broke")
        self.seen.append((method, path, {k.lower(): v for k, v in headers}, body))
        return (
            200,
            [("Content-Type", "application/json"), ("Connection", "close"), ("X-Api", "yes")],
            b'{"ok": true}',
        )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "js" / "app.js").write_text("export const x = 1;\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "notes.md").write_text("# not served\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    (root / "escape.txt").symlink_to(tmp_path / "outside.txt")
    return root


@pytest.fixture
def api() -> RecordingApi:
    return RecordingApi()


@pytest.fixture
def server(site: Path, api: RecordingApi, local_stack: LocalAws) -> Iterator[ConsoleServer]:
    with ConsoleServer(
        config=CONFIG,
        api=api,
        cognito_endpoint=local_stack.endpoint,
        root=site,
        media_origins=["http://127.0.0.1:9999/some/path"],
    ) as running:
        yield running


def get(server: ConsoleServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(server.url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_index_and_files_are_served_with_their_types(server: ConsoleServer) -> None:
    index = get(server, "/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.text.startswith("<!doctype html>")
    script = get(server, "/js/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.text == "export const x = 1;\n"


@pytest.mark.parametrize(
    "path",
    [
        "/js/",  # a folder: no listing
        "/js",
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/js/%2e%2e/%2e%2e/outside.txt",
        "/js/..%2f..%2foutside.txt",
        "/.env",  # dotfiles
        "/%2eenv",
        "/escape.txt",  # a symlink out of the folder
        "/notes.md",  # a type the console does not serve
        "/js/app.js%00.html",
        "/js\\app.js",
        "/missing.js",
    ],
)
def test_nothing_outside_the_served_files(server: ConsoleServer, path: str) -> None:
    with httpx.Client(timeout=5) as client:
        request = client.build_request("GET", server.url + "/")
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)
    assert response.status_code == 404
    assert "outside" not in response.text
    assert "SECRET" not in response.text


def test_security_headers_on_every_answer(server: ConsoleServer) -> None:
    for response in (
        get(server, "/"),
        get(server, "/missing.js"),
        get(server, "/config.json"),
        get(server, "/api/calls"),
    ):
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "connect-src 'self' ws://127.0.0.1:4510" in csp
        assert "media-src 'self' http://127.0.0.1:9999" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_config_is_the_stack_values(server: ConsoleServer) -> None:
    response = get(server, "/config.json")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "region": "us-east-1",
        "userPoolId": "us-east-1_example",
        "userPoolClientId": "client123",
        "cognitoUrl": "/cognito/",
        "apiUrl": "/api",
        "feed": {"httpHost": "127.0.0.1:4510", "realtimeUrl": "ws://127.0.0.1:4510/event/realtime"},
    }


def test_files_revalidate_with_etags(server: ConsoleServer) -> None:
    first = get(server, "/js/app.js")
    again = get(server, "/js/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_only_reads_reach_the_files(server: ConsoleServer) -> None:
    response = httpx.post(server.url + "/index.html", content=b"x", timeout=5)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_api_requests_reach_the_callable_unchanged(server: ConsoleServer, api: RecordingApi) -> None:
    response = httpx.get(
        server.url + "/api/calls?status=completed&limit=5", headers={"Authorization": "tok"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    method, path, headers, body = api.seen[-1]
    assert (method, path, body) == ("GET", "/api/calls?status=completed&limit=5", b"")
    assert headers["authorization"] == "tok"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-api"] == "yes"
    posted = httpx.post(server.url + "/api/calls/CA1", content=b'{"a": 1}', timeout=5)
    assert posted.status_code == 200
    assert api.seen[-1][0] == "POST"
    assert api.seen[-1][3] == b'{"a": 1}'


def test_a_failing_api_is_answered_502(server: ConsoleServer, api: RecordingApi) -> None:
    api.fail = True
    response = get(server, "/api/calls")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_large_bodies_are_refused(server: ConsoleServer, api: RecordingApi) -> None:
    response = httpx.post(server.url + "/api/calls", content=b"x" * (1 << 20 | 1), timeout=5)
    assert response.status_code == 413
    assert api.seen == []


def test_cognito_public_operations_are_forwarded(server: ConsoleServer, local_stack: LocalAws) -> None:
    import boto3

    cognito = boto3.client("cognito-idp", endpoint_url=local_stack.endpoint, region_name="us-east-1")
    pool = cognito.create_user_pool(PoolName="console-server-test")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="c",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(
        UserPoolId=pool, Username="ada", TemporaryPassword="Temp-pass-1", MessageAction="SUPPRESS"
    )
    cognito.admin_set_user_password(UserPoolId=pool, Username="ada", Password="Right-pass-1", Permanent=True)

    def initiate(password: str) -> httpx.Response:
        body = {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client_id,
            "AuthParameters": {"USERNAME": "ada", "PASSWORD": password},
        }
        return httpx.post(
            server.url + "/cognito/",
            content=json.dumps(body),
            timeout=5,
            headers={
                "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )

    good = initiate("Right-pass-1")
    assert good.status_code == 200
    assert good.json()["AuthenticationResult"]["IdToken"]
    bad = initiate("wrong")
    assert bad.status_code == 400
    assert bad.json()["__type"].endswith("NotAuthorizedException")


@pytest.mark.parametrize(
    "target",
    [
        "AWSCognitoIdentityProviderService.AdminCreateUser",
        "DynamoDB_20120810.Scan",
        "AWSEvents.PutEvents",
        "",
    ],
)
def test_cognito_forwarding_refuses_other_operations(server: ConsoleServer, target: str) -> None:
    response = httpx.post(
        server.url + "/cognito/", content=b"{}", timeout=5, headers={"X-Amz-Target": target}
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidAction"


def test_the_console_folder_serves_the_app(local_stack: LocalAws, api: RecordingApi) -> None:
    with ConsoleServer(config=CONFIG, api=api, cognito_endpoint=local_stack.endpoint) as running:
        index = httpx.get(running.url + "/", timeout=5)
        assert index.status_code == 200
        assert 'src="js/main.js"' in index.text
        for path in ("/js/main.js", "/css/console.css", "/favicon.svg"):
            assert httpx.get(running.url + path, timeout=5).status_code == 200, path
    assert (CONSOLE_DIR / "index.html").is_file()
    assert not (CONSOLE_DIR / "config.json").exists(), "config.json is served from the stack, never committed"
