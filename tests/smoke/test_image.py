"""The built images, run for real: health, the API through the fake, hardening, metadata.

The app and the fake run on their own user-defined network (the app finds the fake by
container name) exactly as the compose stack wires them; only the app's port is published,
on a loopback port the engine picks. Every container and network made here carries the
label below and is removed in a finally block, whatever the test outcome.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gemini_workflow import docker_engine, image_checks, images, wait
from gemini_workflow.errors import WorkflowError

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"gemini-service.test": "smoke-image"}
HEALTHY_WITHIN_SECONDS = 15  # the HEALTHCHECK runs every 5 s: first success at about 5 s
STOP_WITHIN_SECONDS = 3
OCI_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses")


def name(kind: str) -> str:
    return f"gs-smoke-img-{kind}-{secrets.token_hex(3)}"


def wait_healthy(container: Any, timeout: float = 60) -> float:
    """Seconds until Docker reports the container healthy; fails with its logs otherwise."""
    try:
        return wait.container_healthy(container, timeout=timeout)
    except WorkflowError as exc:
        logs = container.logs(tail=30).decode(errors="replace")
        pytest.fail(f"{exc} ({container.attrs['State']}):\n{logs}")


def run(engine: Any, image: str, **kwargs: Any) -> Any:
    """A hardened container, as the compose stack runs them."""
    return engine.containers.run(
        image,
        detach=True,
        labels=LABELS,
        read_only=True,
        tmpfs={"/tmp": "size=16m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        **kwargs,
    )


def remove(*things: Any) -> None:
    for thing in things:
        if thing is not None:
            try:
                if hasattr(thing, "stop"):  # a container
                    thing.remove(force=True)
                else:
                    thing.remove()
            except Exception as exc:  # keep removing the rest; report at the end
                print(f"cleanup of {thing} failed: {exc}")


@dataclass
class Pair:
    app: Any
    fake: Any
    url: str
    app_healthy_after: float


@pytest.fixture(scope="module")
def pair(engine: Any, built_images: dict[str, str]) -> Iterator[Pair]:
    """The app talking to the fake over a user-defined network, both read-only with a tmpfs."""
    network = fake = app = None
    try:
        network = engine.networks.create(name("net"), driver="bridge", labels=LABELS)
        fake_name = name("fake")
        fake = run(engine, built_images["fake"], name=fake_name, network=network.name)
        app = run(
            engine,
            built_images["app"],
            name=name("app"),
            network=network.name,
            environment={
                "GEMINI_API_KEY": "smoke-test-key",
                "GEMINI_API_ENDPOINT": f"http://{fake_name}:8001",
            },
            ports={"8000/tcp": ("127.0.0.1", None)},  # the engine picks a free host port
        )
        healthy_after = wait_healthy(app)
        wait_healthy(fake)
        app.reload()
        port = app.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"]
        yield Pair(app, fake, f"http://127.0.0.1:{port}", healthy_after)
    finally:
        remove(app, fake, network)


def test_app_is_healthy_within_seconds(pair: Pair) -> None:
    print(f"\napp healthy after {pair.app_healthy_after:.1f} s")
    assert pair.app_healthy_after < HEALTHY_WITHIN_SECONDS


def test_generate_answers_through_the_fake_over_the_container_network(pair: Pair) -> None:
    response = httpx.post(f"{pair.url}/generate", json={"prompt": "Say hi."}, timeout=20)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"]
    assert body["finish_reason"] == "STOP"


def test_upstream_rate_limit_maps_to_429_with_retry_after(pair: Pair) -> None:
    response = httpx.post(
        f"{pair.url}/generate", json={"prompt": "[[fault:rate_limit]] hi"}, timeout=20
    )
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "7"  # from the upstream's RetryInfo "7s"


def test_containers_run_as_the_fixed_non_root_uid(pair: Pair) -> None:
    for container in (pair.app, pair.fake):
        code, output = container.exec_run(["python", "-c", "import os; print(os.getuid())"])
        assert (code, output.strip()) == (0, b"10001")


def test_root_filesystem_is_read_only_and_tmp_is_writable(pair: Pair) -> None:
    probe = "import pathlib; pathlib.Path('{}').write_text('x')"
    code, _ = pair.app.exec_run(["python", "-c", probe.format("/opt/venv/probe")])
    assert code != 0
    code, output = pair.app.exec_run(["python", "-c", probe.format("/tmp/probe")])
    assert code == 0, output


@pytest.mark.parametrize("target", ["app", "fake"])
def test_stops_on_sigterm_quickly(engine: Any, built_images: dict[str, str], target: str) -> None:
    container = None
    try:
        container = run(
            engine,
            built_images[target],
            name=name(f"stop-{target}"),
            environment={"GEMINI_API_KEY": "smoke-test-key"},
        )
        wait_healthy(container)
        started = time.monotonic()
        # SIGTERM, then SIGKILL if still running after 3 s: the engine's own timer, so the
        # time it spends tearing the container down afterwards (long on a busy host) does
        # not count. Exit code 0 means the server exited by itself within the bound.
        container.stop(timeout=STOP_WITHIN_SECONDS)
        elapsed = time.monotonic() - started
        container.reload()
        print(f"\n{target}: docker stop returned after {elapsed:.2f} s")
        assert container.attrs["State"]["ExitCode"] == 0, "killed: SIGTERM was not handled"
    finally:
        remove(container)


@pytest.mark.parametrize("target", ["app", "fake"])
def test_image_policies_hold(engine: Any, built_images: dict[str, str], target: str) -> None:
    """Non-root, healthcheck, exec-form entrypoint, no secret-looking history/labels/env."""
    ref = built_images[target]
    inspect = docker_engine.inspect_image(engine, ref)
    assert inspect is not None
    config = inspect["Config"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "python"]
    assert config["Entrypoint"][0] == "python"  # exec form: no shell between Docker and PID 1
    assert image_checks.find_secrets(inspect, docker_engine.image_history(engine, ref)) == []


@pytest.mark.parametrize("target", ["app", "fake"])
def test_oci_labels_describe_the_source(
    engine: Any, built_images: dict[str, str], target: str
) -> None:
    inspect = docker_engine.inspect_image(engine, built_images[target])
    assert inspect is not None
    labels = inspect["Config"]["Labels"]
    for key in OCI_LABELS:
        assert labels.get(f"org.opencontainers.image.{key}"), key
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert labels["org.opencontainers.image.version"] == project["version"]
    # The revision is a commit of this repository and the one the sha- tag names.
    revision = labels["org.opencontainers.image.revision"]
    subprocess.run(["git", "cat-file", "-e", f"{revision}^{{commit}}"], cwd=ROOT, check=True)
    assert built_images[target].split(":sha-")[1].startswith(revision[:7])


def test_no_runtime_secret_or_build_tool_in_the_layers(
    engine: Any, invoke_config: Any, built_images: dict[str, str]
) -> None:
    """The key the container ran with is nowhere in the image; nor are pip or a compiler."""
    saved = docker_engine.save_image(engine, built_images["app"])
    venv_pip = f"opt/venv/lib/python{invoke_config.image.python_version}/site-packages/pip/"
    needles = [b"smoke-test-key", venv_pip.encode(), b"usr/bin/gcc"]
    assert image_checks.find_in_stream(saved, needles) == set()


# --- .dockerignore ------------------------------------------------------------------------

CANARY_PLACES = (".env", ".env.local", "src/gemini_service/.env", "src/gemini_service/.env.prod")


def copy_context(source: Path, target: Path) -> None:
    """The build context as a developer's checkout has it (wheelhouse included, no .git)."""
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(".git", ".nox", ".venv", "*.egg-info", ".*_cache"),
    )


def build_and_search(engine: Any, config: Any, context: Path, canary: bytes) -> bool:
    """Build the app target from `context` and say whether the canary is in `docker save`."""
    request = images.request_from_config(config, root=ROOT, target="app", quiet=True)
    tag = f"gs-smoke-canary:{secrets.token_hex(4)}"
    info = images.read_source_info(ROOT)
    spec = docker_engine.BuildSpec(
        context=context,
        dockerfile=context / images.DOCKERFILE,
        target="app",
        tags=[tag],
        build_args=images.build_args(
            info,
            python_base=request.python_base,
            python_version=request.python_version,
            offline=request.offline,
        ),
        network="none" if request.offline else None,
    )
    try:
        docker_engine.build(spec, quiet=True)
        return bool(image_checks.find_in_stream(docker_engine.save_image(engine, tag), [canary]))
    finally:
        docker_engine.remove_image(engine, tag)


def test_dockerignore_keeps_env_files_out_of_the_image(
    engine: Any, invoke_config: Any, tmp_path: Path
) -> None:
    canary = f"CANARY_{secrets.token_hex(16)}".encode()
    context = tmp_path / "context"
    copy_context(ROOT, context)
    for place in CANARY_PLACES:
        (context / place).write_bytes(b"GEMINI_API_KEY=" + canary + b"\n")

    assert not build_and_search(engine, invoke_config, context, canary)

    # The control: the same build without .dockerignore does ship the canary, so the
    # assertion above can fail and it is .dockerignore that keeps it out.
    (context / ".dockerignore").unlink()
    assert build_and_search(engine, invoke_config, context, canary)
