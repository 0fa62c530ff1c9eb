"""The compose stack: decide what to start, start it with a health wait, explain failures.

`invoke up/down/logs/ps` are thin wrappers around this module. Decisions (which env file,
which upstream, which key) are plain functions of plain values, so they are unit-tested
without an engine; the engine is touched only through `docker compose` (for the health
wait, which compose does well) and the docker SDK (to say *why* a service is not healthy).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from gemini_workflow import docker_engine
from gemini_workflow.errors import WorkflowError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

COMPOSE_FILE: Final = Path("compose/compose.yaml")
ENV_DIR: Final = Path("compose/env")
PLACEHOLDER_KEY_FILE: Final = Path("compose/placeholder-api-key.txt")
STATE_DIR: Final = Path(".local/stack")
"""Git-ignored; holds the real key as a file for the compose secret while a stack runs."""

FAKE_UPSTREAM: Final = "http://fake-gemini:8001"
PROXY_SERVICE: Final = "api-proxy"
PROJECT_LABEL: Final = "com.docker.compose.project"
SERVICE_LABEL: Final = "com.docker.compose.service"
SAMPLE_PROMPT: Final = "Say hello to a newcomer in one short sentence."


class StackError(WorkflowError):
    """The stack cannot be started or inspected; the message says what to do next."""


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class ApiKey:
    """Where the real Gemini key comes from; never printed, only its origin is."""

    origin: str
    value: str = field(repr=False)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv-style file (KEY=VALUE, comments, optional quotes, `export`).

    Deliberately small: the same subset compose's env_file accepts, so one file means the
    same thing to compose and to `invoke up`.
    """
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def find_api_key(environ: Mapping[str, str], dotenv: Path) -> ApiKey | None:
    """The real key, if one is configured: the environment first, then the repo's `.env`.

    GEMINI_API_KEY_FILE wins over GEMINI_API_KEY (it keeps the key off the command line and
    out of the environment); blank values count as unset, like an untouched .env.example.
    """
    sources: list[tuple[str, Mapping[str, str]]] = [("the environment", environ)]
    if dotenv.is_file():
        sources.append((str(dotenv.name), read_env_file(dotenv)))
    for origin, values in sources:
        key_file = values.get("GEMINI_API_KEY_FILE", "").strip()
        if key_file:
            return ApiKey(f"GEMINI_API_KEY_FILE ({origin})", _read_key_file(Path(key_file)))
        key = values.get("GEMINI_API_KEY", "").strip()
        if key:
            return ApiKey(f"GEMINI_API_KEY ({origin})", key)
    return None


def _read_key_file(path: Path) -> str:
    try:
        key = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as error:
        raise StackError(
            f"GEMINI_API_KEY_FILE {path} cannot be read ({error.strerror}); fix the path, "
            "or unset it to use the fake Gemini"
        ) from None
    if not key:
        raise StackError(f"GEMINI_API_KEY_FILE {path} is empty; put the key in it, or unset it")
    return key


def resolve_env_file(root: Path, name: str) -> Path:
    """An environment name (`dev` -> compose/env/dev.env) or a path to an env file."""
    candidate = root / ENV_DIR / f"{name}.env"
    if candidate.is_file():
        return candidate
    as_path = Path(name).expanduser()
    if as_path.suffix == ".env" and as_path.is_file():
        return as_path.resolve()
    known = ", ".join(sorted(p.stem for p in (root / ENV_DIR).glob("*.env"))) or "none"
    raise StackError(f"unknown environment {name!r}; choose one of: {known} (or an .env path)")


@dataclass(frozen=True)
class Images:
    app: str
    fake: str
    proxy: str


@dataclass(frozen=True)
class StackPlan:
    """Everything `up` will do, decided before the engine is touched."""

    project: str
    root: Path
    env_name: str
    env_file: Path
    upstream: str
    key: ApiKey | None
    port: int
    bind: str
    images: Images
    pinned: bool = False
    """The env file fixed the upstream (test.env: the fake), whatever key is configured."""

    @property
    def uses_real_key(self) -> bool:
        return self.key is not None and not self.pinned

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR / self.project

    def secret_file(self) -> Path:
        """The file the compose secret mounts: our copy of the key, or the placeholder."""
        if not self.uses_real_key:
            return self.root / PLACEHOLDER_KEY_FILE
        return self.state_dir / "gemini_api_key"

    def compose_env(self) -> dict[str, str]:
        """Variables compose.yaml interpolates; no secret among them, only a file path."""
        return {
            "GEMINI_STACK_ENV_FILE": str(self.env_file),
            "GEMINI_UPSTREAM": self.upstream,
            "GEMINI_API_KEY_SECRET_FILE": str(self.secret_file()),
            "GEMINI_PROXY_PORT": str(self.port),
            "GEMINI_PROXY_BIND": self.bind,
            "GEMINI_APP_IMAGE": self.images.app,
            "GEMINI_FAKE_IMAGE": self.images.fake,
            "GEMINI_PROXY_IMAGE": self.images.proxy,
        }

    def summary(self) -> str:
        """One line saying which upstream answers and why."""
        if self.key is not None and self.uses_real_key:
            return (
                f"Upstream {self.upstream} through api-proxy, with the key from {self.key.origin}."
            )
        if self.key is None and not self.pinned:
            return (
                "No GEMINI_API_KEY (environment or .env): using fake-gemini with a placeholder "
                "key; see .env.example for the real API."
            )
        return (
            f"Environment {self.env_name!r} pins the upstream to {self.upstream}, "
            "with a placeholder key."
        )


def plan_stack(
    *,
    root: Path,
    project: str,
    env: str,
    port: int,
    bind: str,
    images: Images,
    real_upstream: str,
    environ: Mapping[str, str],
) -> StackPlan:
    """Pick the env file, the key and the upstream.

    The upstream rule: an env file that sets GEMINI_UPSTREAM pins it (test.env pins the
    fake, so integration tests never spend quota); otherwise a configured key selects the
    real API and no key selects the fake.
    """
    env_file = resolve_env_file(root, env)
    key = find_api_key(environ, root / ".env")
    pinned = read_env_file(env_file).get("GEMINI_UPSTREAM", "").strip()
    upstream = pinned or (real_upstream if key else FAKE_UPSTREAM)
    return StackPlan(
        project=project,
        root=root,
        env_name=env_file.stem,
        env_file=env_file,
        upstream=upstream.rstrip("/"),
        pinned=bool(pinned),
        key=key,
        port=port,
        bind=bind,
        images=images,
    )


def write_secret(plan: StackPlan) -> Path:
    """Write the key to the file the compose secret mounts.

    Always a copy, even of a GEMINI_API_KEY_FILE: compose bind-mounts the file as it is, and
    the container's unprivileged user (uid 10001) could not read a typical 0600 key file.
    The directory is private (0700); the container sees only the file, never the directory.
    """
    target = plan.secret_file()
    if plan.key is None or not plan.uses_real_key:
        return target
    plan.state_dir.mkdir(parents=True, exist_ok=True)
    plan.state_dir.chmod(0o700)
    target.write_text(plan.key.value + "\n", encoding="utf-8")
    target.chmod(0o644)
    return target


def forget_secret(root: Path, project: str) -> None:
    """Remove the key file `up` wrote, once the stack that needed it is gone."""
    shutil.rmtree(root / STATE_DIR / project, ignore_errors=True)


def compose_command(root: Path, project: str, *args: str) -> list[str]:
    return ["docker", "compose", "-p", project, "-f", str(root / COMPOSE_FILE), *args]


# ------------------------------------------------------------------------ engine checks


def engine_client() -> Any:
    """A docker SDK client for a reachable engine (EngineUnavailable says how to start one)."""
    return docker_engine.connect(timeout=30)


def port_conflict(client: Any, plan: StackPlan) -> str | None:
    """Why the proxy's host port cannot be used, or None if it is free (or already ours)."""
    for container in client.containers.list(filters={"publish": str(plan.port)}):
        labels = container.labels or {}
        if labels.get(PROJECT_LABEL) == plan.project and labels.get(SERVICE_LABEL) == PROXY_SERVICE:
            return None  # our own running stack: `up` is idempotent
        owner = labels.get(PROJECT_LABEL)
        of_project = f" of compose project {owner}" if owner else ""
        return (
            f"host port {plan.port} is already published by container {container.name}"
            f"{of_project}; stop it or choose another port: invoke up --port {plan.port + 1}"
        )
    if not port_is_free(plan.bind or "0.0.0.0", plan.port):  # noqa: S104
        return (
            f"host port {plan.port} on {plan.bind} is in use by another process; "
            f"free it or choose another port: invoke up --port {plan.port + 1}"
        )
    return None


def port_is_free(host: str, port: int) -> bool:
    """True unless something listens on the port.

    TIME_WAIT leftovers of a stack just stopped do not count (SO_REUSEADDR): they would not
    stop docker-proxy from binding either.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def missing_images(client: Any, names: Sequence[str]) -> list[str]:
    return [name for name in names if docker_engine.inspect_image(client, name) is None]


def build_target(images: Images, missing: Sequence[str]) -> str:
    """The `invoke build --target` that produces exactly the missing images."""
    wanted = {"app": images.app in missing, "fake": images.fake in missing}
    if all(wanted.values()):
        return "all"
    return "app" if wanted["app"] else "fake"


# ---------------------------------------------------------------------------- diagnosis


@dataclass(frozen=True)
class ServiceState:
    """One service's container as the engine sees it, with the evidence for a diagnosis."""

    service: str
    container: str
    state: str
    health: str | None
    exit_code: int
    restarts: int
    health_output: str = ""
    log_tail: tuple[str, ...] = ()
    ports: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")

    @property
    def status(self) -> str:
        """The one word a person wants: healthy, starting, unhealthy, exited (1), ..."""
        if self.state == "running":
            return self.health or "running"
        if self.state == "exited":
            return f"exited ({self.exit_code})"
        if self.state == "restarting":
            return f"restarting (last exit {self.exit_code})"
        return self.state


def service_states(client: Any, project: str, log_lines: int = 0) -> list[ServiceState]:
    """Every container of the compose project, sorted by service name."""
    containers = client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    return sorted(
        (state_from_attrs(c.attrs, _logs(c, log_lines)) for c in containers),
        key=lambda s: s.service,
    )


def _logs(container: Any, lines: int) -> tuple[str, ...]:
    if lines <= 0:
        return ()
    raw: bytes = container.logs(tail=lines, stdout=True, stderr=True)
    return tuple(raw.decode("utf-8", "replace").splitlines())


def state_from_attrs(attrs: Mapping[str, Any], log_tail: Sequence[str] = ()) -> ServiceState:
    """Build a ServiceState from `docker inspect` data (a plain dict, so tests can fake it)."""
    state = attrs.get("State", {})
    health = state.get("Health") or {}
    probes = health.get("Log") or []
    last_output = str(probes[-1].get("Output", "")).strip() if probes else ""
    labels = attrs.get("Config", {}).get("Labels") or {}
    return ServiceState(
        service=labels.get(SERVICE_LABEL, "?"),
        container=str(attrs.get("Name", "")).lstrip("/"),
        state=str(state.get("Status", "unknown")),
        health=health.get("Status"),
        exit_code=int(state.get("ExitCode", 0)),
        restarts=int(attrs.get("RestartCount", 0)),
        health_output=last_output,
        log_tail=tuple(log_tail),
        ports=_published(attrs),
    )


def _published(attrs: Mapping[str, Any]) -> str:
    bindings = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    published = []
    for container_port, hosts in sorted(bindings.items()):
        for host in hosts or []:
            published.append(f"{host.get('HostIp', '')}:{host.get('HostPort')}->{container_port}")
    return ", ".join(published)


def status_table(states: Sequence[ServiceState]) -> Table:
    """`invoke ps`: one row per service, health first because that is what people check."""
    from rich.table import Table

    table = Table("service", "status", "restarts", "published")
    colours = {"healthy": "green", "starting": "yellow"}
    for state in states:
        colour = colours.get(state.status, "green" if state.ok else "red")
        table.add_row(
            state.service,
            f"[{colour}]{state.status}[/{colour}]",
            str(state.restarts),
            state.ports,
        )
    return table


def diagnose(states: Sequence[ServiceState], compose_output: str = "") -> str:
    """A failure report: which services are not healthy, their last probe and log lines.

    A service is blamed only if it ran and is not ok; one never started (its dependency
    failed) is named, not blamed. If none failed (compose itself did, e.g. over a port or an
    image), compose's own last lines are the evidence.
    """
    lines: list[str] = []
    failed = [s for s in states if not s.ok and s.state != "created"]
    for state in failed:
        lines.append(f"✗ {state.service}: {state.status} (container {state.container})")
        if state.restarts:
            lines.append(f"  restarted {state.restarts} time(s)")
        if state.health_output:
            lines.append("  last health check output:")
            lines.extend(f"    {line}" for line in state.health_output.splitlines()[-5:])
        if state.log_tail:
            lines.append(f"  last {len(state.log_tail)} log lines:")
            lines.extend(f"    {line}" for line in state.log_tail)
        else:
            lines.append("  (no log output)")
    waiting = [s.service for s in states if s.state == "created"]
    if waiting:
        lines.append(f"not started, waiting for the above: {', '.join(waiting)}")
    if not failed:
        if states:
            lines.append("All containers look healthy, but compose reported a failure.")
        else:
            lines.append("No container was created.")
    tail = [line for line in compose_output.strip().splitlines() if line.strip()][-8:]
    if tail:
        lines.append("docker compose said:")
        lines.extend(f"  {line}" for line in tail)
    return "\n".join(lines)


def compose_verdict(output: str) -> str:
    """Compose's own last word on a failed `up`, e.g. "container x is unhealthy"."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "docker compose gave no reason"


def explain_compose_failure(output: str, plan: StackPlan) -> str | None:
    """Known compose errors, translated into what to do; None when there is no better advice."""
    text = output.lower()
    if "port is already allocated" in text or "address already in use" in text:
        return (
            f"host port {plan.port} was taken while the stack started; "
            f"choose another: invoke up --port {plan.port + 1}"
        )
    if "no such image" in text or "pull access denied" in text or "manifest unknown" in text:
        return (
            "an image is missing and cannot be pulled (offline host?); run `invoke build` "
            "(and `invoke bootstrap` for the local nginx stand-in)"
        )
    if "cannot connect to the docker daemon" in text:
        return "the Docker engine stopped answering; start it and retry"
    return None


# ---------------------------------------------------------------------------- compose up


@dataclass(frozen=True)
class UpResult:
    ok: bool
    seconds: float
    output: str


Progress = Callable[[Sequence[ServiceState], float], None]


def compose_up(
    plan: StackPlan, timeout: int, client: Any, progress: Progress | None = None
) -> UpResult:
    """`docker compose up -d --wait`, reporting per-service state while compose waits.

    Compose does the waiting (it knows depends_on and health); the SDK poll only feeds the
    progress display. Output goes to a temporary file, not a pipe, so a chatty compose can
    never block on a full pipe while we poll.
    """
    command = compose_command(
        plan.root,
        plan.project,
        "up",
        "--detach",
        "--wait",
        "--wait-timeout",
        str(timeout),
        "--remove-orphans",
    )
    env = {**os.environ, **plan.compose_env()}
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = started + timeout + 60  # compose's own timeout should always fire first
        while process.poll() is None:
            elapsed = time.monotonic() - started
            if time.monotonic() > deadline:
                process.kill()
                break
            if progress is not None:
                progress(service_states(client, plan.project), elapsed)
            time.sleep(0.5)
        returncode = process.wait()
        output.seek(0)
        text = output.read()
    return UpResult(ok=returncode == 0, seconds=time.monotonic() - started, output=text)


def compose_down(
    root: Path, project: str, *, volumes: bool = False
) -> subprocess.CompletedProcess[str]:
    args = ["down", "--remove-orphans", "--timeout", "10"]
    if volumes:
        args.append("--volumes")
    return subprocess.run(
        compose_command(root, project, *args), capture_output=True, text=True, check=False
    )


def progress_line(states: Sequence[ServiceState], elapsed: float, timeout: int) -> str:
    """One status line while compose waits: every service and where it stands."""
    parts = [f"{state.service} {state.status}" for state in states] or ["creating containers"]
    return f"waiting for healthy ({elapsed:.0f}/{timeout} s): {', '.join(parts)}"


def bring_up(
    plan: StackPlan,
    client: Any,
    console: Console,
    *,
    timeout: int,
    keep_on_failure: bool = False,
    log_lines: int = 40,
) -> UpResult:
    """Start the stack and wait for health; on failure explain it and leave nothing behind.

    Raises StackError carrying the diagnosis (which service, its last probe and log lines),
    after `down` unless keep_on_failure, so a failed `up` never leaves a half-started stack.
    """
    conflict = port_conflict(client, plan)
    if conflict:
        raise StackError(conflict)
    console.print(plan.summary(), soft_wrap=True)
    write_secret(plan)
    with console.status("starting the stack") as status:

        def show(states: Sequence[ServiceState], elapsed: float) -> None:
            status.update(progress_line(states, elapsed, timeout))

        result = compose_up(plan, timeout, client, progress=show)
    if result.ok:
        return result
    states = service_states(client, plan.project, log_lines=log_lines)
    report = diagnose(states, result.output)
    advice = explain_compose_failure(result.output, plan)
    if keep_on_failure:
        after = "containers kept for inspection; remove them with `invoke down`"
    else:
        compose_down(plan.root, plan.project)
        forget_secret(plan.root, plan.project)
        after = "the stack was removed again (keep it with --keep-on-failure)"
    headline = advice or f"the stack did not become healthy ({compose_verdict(result.output)})"
    raise StackError(f"{headline}\n{report}\n{after}")


def greet(plan: StackPlan, result: UpResult, console: Console) -> Answer:
    """After a healthy start: where it runs, how to call it, and one real answer."""
    console.print(
        f"[green]healthy in {result.seconds:.1f} s[/green]: {plan.url}  (docs: {plan.url}/docs)"
    )
    console.print(f"try: {sample_curl(plan.url)}", soft_wrap=True)
    answer = ask(plan.url)
    if answer.status != 200:
        raise StackError(
            f"the stack is up but /generate answered {answer.status}: {answer.text}\n"
            "it keeps running for inspection (`invoke logs gemini-app`); `invoke down` stops it"
        )
    console.print(f"answer through the proxy: {answer.text}")
    console.print("status: invoke ps · logs: invoke logs [-s SERVICE] [-f] · stop: invoke down")
    return answer


# ------------------------------------------------------------------------ first request


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def text(self) -> str:
        """The answer's text, or the error message when the service answered with one."""
        if "text" in self.body:
            return str(self.body["text"]).strip()
        error = self.body.get("error") or {}
        return f"{error.get('code', 'error')}: {error.get('message', self.body)}"


def ask(url: str, prompt: str = SAMPLE_PROMPT, timeout: float = 60.0) -> Answer:
    """POST one prompt to /generate through the proxy: proof that the whole chain works."""
    request = urllib.request.Request(  # noqa: S310 (http URL built from our own config)
        f"{url}/generate",
        data=json.dumps({"prompt": prompt}).encode(),
        headers={"Content-Type": "application/json", "X-Request-ID": f"invoke-up-{os.getpid()}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, _json(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, _json(error.read()), dict(error.headers))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise StackError(f"no answer from {url}/generate: {reason}") from None


def sample_curl(url: str) -> str:
    return (
        f"curl -s {url}/generate -H 'Content-Type: application/json' "
        '-d \'{"prompt": "Write a haiku about containers."}\''
    )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"error": {"code": "not_json", "message": raw[:200].decode("utf-8", "replace")}}
    return value if isinstance(value, dict) else {"value": value}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"
