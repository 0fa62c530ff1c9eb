"""Client keys and the per-key rate limit, end to end: `invoke up --auth`, real nginx, real app.

One stack for the module, on a free port, with a client key file of this test: no key, a
wrong key and a revoked key get 401; a good key gets 200; a burst from one key gets 429
`client_rate_limited` at the proxy while another key still gets 200; no key is in any log
line or response.
"""

from __future__ import annotations

import concurrent.futures
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_workflow import wait
from gemini_workflow.compose import ComposeProject
from gemini_workflow.ports import free_port
from tests.smoke.test_stack import invoke, invoke_up, project_name

pytestmark = pytest.mark.engine


@dataclass(frozen=True)
class Keyed:
    project: str
    url: str
    keys: Path
    good: str
    other: str
    revoked: str


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def generate(stack: Keyed, key: str | None) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/generate",
        json={"prompt": "who may ask?"},
        headers=bearer(key) if key else {},
        timeout=30,
    )


@pytest.fixture(scope="module")
def keyed(
    stack_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Keyed]:
    good, other, revoked = (f"k-{secrets.token_urlsafe(18)}" for _ in range(3))
    keys = tmp_path_factory.mktemp("auth") / "client-keys"
    keys.write_text(f"{good}\n{other}\n{revoked}\n")
    keys.chmod(0o600)
    project, port = project_name(), free_port()
    started = invoke_up(
        project, stack_images, "--auth", "--port", str(port), INVOKE_DEPLOY_CLIENT_KEYS=str(keys)
    )
    stack = Keyed(project, f"http://127.0.0.1:{port}", keys, good, other, revoked)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert good not in started.stdout + started.stderr
        yield stack
    finally:
        invoke(project, "down")


def test_no_key_and_a_wrong_key_get_401_in_the_error_shape(keyed: Keyed) -> None:
    for key in (None, "k-not-a-key"):
        answer = generate(keyed, key)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_good_key_gets_an_answer_and_health_needs_none(keyed: Keyed) -> None:
    assert generate(keyed, keyed.good).status_code == 200
    assert httpx.get(f"{keyed.url}/health", timeout=10).status_code == 200


def test_a_burst_from_one_key_is_limited_at_the_proxy_while_another_key_still_passes(
    keyed: Keyed,
) -> None:
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        burst = list(pool.map(lambda _: generate(keyed, keyed.good), range(40)))
    limited = [answer for answer in burst if answer.status_code == 429]
    assert limited, [answer.status_code for answer in burst]
    assert {a.json()["error"]["code"] for a in limited} == {"client_rate_limited"}
    assert all(a.headers["retry-after"] == "1" for a in limited)
    assert {a.status_code for a in burst} <= {200, 429}
    assert generate(keyed, keyed.other).status_code == 200


def test_a_revoked_key_gets_401_without_a_rebuild_or_restart(
    keyed: Keyed, engine: Any, stack_images: dict[str, str]
) -> None:
    app = ComposeProject(keyed.project).container(engine, "gemini-app")
    started_at = app.attrs["State"]["StartedAt"]
    assert generate(keyed, keyed.revoked).status_code == 200
    keyed.keys.write_text(f"{keyed.good}\n{keyed.other}\n")
    again = invoke_up(
        keyed.project,
        stack_images,
        "--auth",
        "--port",
        keyed.url.rsplit(":", 1)[1],
        INVOKE_DEPLOY_CLIENT_KEYS=str(keyed.keys),
    )
    assert again.returncode == 0, again.stdout + again.stderr
    wait.until(
        lambda: generate(keyed, keyed.revoked).status_code == 401,
        timeout=10,
        interval=0.5,
        what="the revoked key refused",
    )
    assert generate(keyed, keyed.good).status_code == 200
    app.reload()
    assert app.attrs["State"]["StartedAt"] == started_at, "the app was restarted"


def test_no_key_is_in_any_log_line(keyed: Keyed) -> None:
    logs = ComposeProject(keyed.project).logs()
    for key in (keyed.good, keyed.other, keyed.revoked):
        assert key not in logs
