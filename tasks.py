"""Workflow tasks: `invoke --list` shows them, `invoke --help TASK` explains one.

Tasks stay thin: the logic worth testing lives in src/gemini_workflow/. Defaults live in
the invoke config below and can be overridden in invoke.yaml or with INVOKE_* variables
(for example INVOKE_IMAGE_NAME=my-service).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

if TYPE_CHECKING:  # imported lazily at run time so `invoke --list` stays fast
    from rich.console import Console

    from gemini_workflow.local_registry import LocalRegistry
    from gemini_workflow.stack import StackPlan

ROOT = Path(__file__).resolve().parent

CONFIG: dict[str, object] = {
    # --- images: `invoke build`, `invoke lock`, `invoke bootstrap` ---
    "image": {
        "name": "gemini-service",  # the fake is "<name>-fake"
        "python_version": "3.11",  # major.minor of images.python
        # `invoke build` fails above these (measured: README "Image anatomy").
        "budgets": {"max_size_mb": 300, "max_added_mb": 120, "max_layers": 10},
    },
    # Base images pinned by digest (Renovate bumps them). On hosts without Docker Hub,
    # `invoke bootstrap` writes local stand-ins here (invoke.yaml) and sets `offline`.
    "images": {
        "python": "python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b",  # noqa: E501
        "nginx": "nginx:1.27-bookworm@sha256:bc5eac5eafc581aeda3008b4b1f07ebba230de2f27d47767129a6a905c84f470",  # noqa: E501
    },
    # True: builds use the stand-ins and the host wheelhouse, with no network inside.
    "offline": False,
    # --- stack: `invoke up`, `down`, `logs`, `ps` ---
    "stack": {
        "project": "gemini-service",  # compose project name: containers, network prefix
        "env": "dev",  # compose/env/<env>.env, or a path to an env file
        "port": 8080,  # host port of api-proxy, the only published port
        "bind": "127.0.0.1",  # host address it is published on; 0.0.0.0 exposes it
        "timeout": 120,  # seconds `up` waits for every service to be healthy
        "log_lines": 40,  # log lines shown per failed service
        "upstream": "https://generativelanguage.googleapis.com",  # used when a key is set
        # Empty: <image.name>[-fake]:sha-<commit>, the tag `invoke build` gives this commit.
        "app_image": "",
        "fake_image": "",
    },
    # --- release: `invoke push`, `invoke verify`, `invoke registry.up/down` ---
    "release": {
        # Where `push` sends <image.name>: HOST[/NAMESPACE], e.g. 127.0.0.1:5000/llm-apps.
        # Empty: Artifact Registry, <location>-docker.pkg.dev/<project>/<repository>.
        "registry": "",
        "location": "us",
        "project": "",
        "repository": "llm-apps",
        "record": "build/release.json",  # what was pushed; a deploy pins its `ref`
        "verify_timeout": 90,  # seconds for the pulled image to become healthy
    },
    "registry": {  # a local registry to try the release flow without a cloud account
        "host": "127.0.0.1",
        "port": 5000,
        "dir": ".local/registry",  # config, storage, pid and log (git-ignored)
    },
}


@task
def version(c: Context) -> None:
    """Print the project version from pyproject.toml."""
    from gemini_service import __version__

    print(__version__)


# --- images ---------------------------------------------------------------------------------


@task(
    help={
        "no-cache": "Rebuild every layer (e.g. to pick up base image security fixes).",
        "target": "app, fake or all (default).",
        "python-version": "Python major.minor (default: image.python_version in config).",
        "name": "Image repository name (default: image.name in config); the fake adds -fake.",
    }
)
def build(
    c: Context,
    no_cache: bool = False,
    target: str = "all",
    python_version: str = "",
    name: str = "",
) -> None:
    """Build the app and fake images, print their anatomy, fail on budgets, secrets, root."""
    from rich.console import Console

    from gemini_workflow import images
    from gemini_workflow.errors import WorkflowError

    console = Console()
    if not console.is_terminal:  # CI logs: wide enough for the table, not 80 columns
        console = Console(width=120)
    try:
        request = images.request_from_config(
            c.config,
            root=ROOT,
            target=target,
            python_version=python_version,
            name=name,
            no_cache=no_cache,
            environ=os.environ,
        )
        reports = images.build_images(request)
    except images.ImageCheckFailed as exc:
        console.print(images.report_table(exc.reports))
        raise Exit(str(exc)) from exc
    except WorkflowError as exc:
        raise Exit(str(exc)) from exc
    console.print(images.report_table(reports))


@task(help={"upgrade": "Move every dependency to its newest allowed version."})
def lock(c: Context, upgrade: bool = False) -> None:
    """Resolve uv.lock from pyproject.toml and export the image's containers/requirements.lock."""
    from gemini_workflow import lockfile

    c.run(shlex.join(lockfile.lock_command(upgrade=upgrade)))
    try:
        lockfile.write_image_lock(ROOT)
    except lockfile.LockError as exc:
        raise Exit(str(exc)) from exc
    print(f"wrote {lockfile.UV_LOCK} and {lockfile.LOCK}; commit both with pyproject.toml")


@task(help={"offline": "Use the offline path even where Docker Hub answers (to try what CI does)."})
def bootstrap(c: Context, offline: bool = False) -> None:
    """Prepare this host: engine, compose, buildx and, without Docker Hub, offline builds."""
    from rich.console import Console

    from gemini_workflow import host
    from gemini_workflow.errors import WorkflowError

    console = Console()
    options = host.Options(
        root=ROOT, python_version=str(c.config.image.python_version), force_offline=offline
    )

    def show(step: host.Step) -> None:
        mark = "[green]+[/]" if step.changed else "[dim]=[/]"
        console.print(f"{mark} {step.name}: {step.detail} [dim]({step.seconds:.1f} s)[/]")

    try:
        with console.status("bootstrapping (a fresh host takes about two minutes)"):
            steps = host.bootstrap(c, options, on_step=show)
    except WorkflowError as exc:
        raise Exit(f"bootstrap stopped: {exc}") from exc
    console.print(host.summary(steps))
    # Invoke read invoke.yaml before bootstrap (re)wrote it; read it again so the tasks after
    # this one in the same run (`invoke bootstrap up`) see offline mode and the stand-ins.
    c.config.set_project_location(str(ROOT))
    c.config.load_project()


# --- release --------------------------------------------------------------------------------


@task(
    help={
        "registry": "HOST[/NAMESPACE] to push to, e.g. 127.0.0.1:5000/llm-apps "
        "(default: release.* in config).",
        "force": "Replace a version tag that already points to different content.",
        "no-verify": "Skip the pull-by-digest check that runs the pushed image (invoke verify).",
    }
)
def push(c: Context, registry: str = "", force: bool = False, no_verify: bool = False) -> None:
    """Push this commit's image as <version>, <major.minor>, <major>, sha-<7>, latest; verify it."""
    from rich.console import Console

    from gemini_workflow import images, publish, release
    from gemini_workflow.errors import WorkflowError

    console = Console()
    name = str(c.config.image.name)
    record_path = ROOT / str(c.config.release.record)

    def build() -> None:
        request = images.request_from_config(c.config, root=ROOT, quiet=True, environ=os.environ)
        images.build_images(request)

    try:
        target = release.configured_registry(registry, c.config.release)
        repository = release.target_repository(target, name)
        with console.status(f"pushing to {repository}") as status:
            result = publish.push_release(
                root=ROOT,
                repository=repository,
                image_name=name,
                force=force,
                record_path=record_path,
                build=build,
                progress=status.update,
            )
    except WorkflowError as exc:
        raise Exit(str(exc)) from exc
    console.print(publish.summary_table(result))
    console.print(publish.summary_line(result, record_path.relative_to(ROOT)))
    if not no_verify:
        _verify(c, result.record.ref, console)


@task(
    positional=["ref"],
    help={"ref": "HOST/PATH[:TAG|@sha256:...] to verify (default: the last push's record)."},
)
def verify(c: Context, ref: str | None = None) -> None:
    """Prove a pushed image works on a clean host: pull by digest, run it against the fake."""
    from rich.console import Console

    _verify(c, ref or "", Console())  # None, not "": invoke fills a positional only if None


def _verify(c: Context, ref: str, console: Console) -> None:
    import tomllib

    from gemini_workflow import images
    from gemini_workflow import verify as verifying
    from gemini_workflow.errors import WorkflowError

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    fake = f"{images.fake_image_name(str(c.config.image.name))}:{version}"
    try:
        with console.status("verifying") as status:
            report = verifying.verify_release(
                ref,
                record_path=ROOT / str(c.config.release.record),
                fake_image=fake,
                timeout=float(c.config.release.verify_timeout),
                progress=status.update,
            )
    except WorkflowError as exc:
        raise Exit(f"verify failed: {exc}") from exc
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(verifying.summary_line(report))


def _local_registry(c: Context, port: int = 0) -> LocalRegistry:
    from gemini_workflow.local_registry import LocalRegistry

    config = c.config.registry
    return LocalRegistry(
        state_dir=ROOT / str(config.dir),
        host=str(config.host),
        port=port or int(config.port),
        use_container=not bool(c.config.offline),  # offline hosts run Debian's docker-registry
    )


@task(name="up", help={"port": "Port on 127.0.0.1 (default: registry.port in config, 5000)."})
def registry_up(c: Context, port: int = 0) -> None:
    """Start a local registry (storage in .local/registry); a no-op when it already runs."""
    from gemini_workflow import local_registry
    from gemini_workflow.errors import WorkflowError

    spec = _local_registry(c, port)
    try:
        print(local_registry.up(spec))
    except WorkflowError as exc:
        raise Exit(str(exc)) from exc
    print(f"push to it with: invoke push --registry {spec.address}/llm-apps")


@task(name="down", help={"purge": "Also delete the stored images."})
def registry_down(c: Context, purge: bool = False) -> None:
    """Stop the local registry; its storage stays unless --purge."""
    from gemini_workflow import local_registry

    print(local_registry.down(_local_registry(c), purge=purge))


registry_tasks = Collection("registry", registry_up, registry_down)


# --- stack ----------------------------------------------------------------------------------


def _stack_plan(c: Context, env: str = "", port: int = 0) -> StackPlan:
    """The stack `up` would start, from config, options, the environment and .env."""
    from gemini_workflow import images, stack

    tag = images.image_tags(images.read_source_info(ROOT))[1]  # sha-<7>: follows the commit
    name = str(c.config.image.name)
    cfg = c.config.stack
    return stack.plan_stack(
        root=ROOT,
        project=str(cfg.project),
        env=env or str(cfg.env),
        port=port or int(cfg.port),
        bind=str(cfg.bind),
        images=stack.Images(
            app=str(cfg.app_image) or f"{name}:{tag}",
            fake=str(cfg.fake_image) or f"{images.fake_image_name(name)}:{tag}",
            proxy=str(c.config.images.nginx),
        ),
        real_upstream=str(cfg.upstream),
        environ=os.environ,
    )


@task(
    help={
        "env": "dev (default) or test, i.e. compose/env/NAME.env, or the path of an env file.",
        "no-build": "Fail instead of building images that are missing.",
        "timeout": "Seconds to wait for every service to be healthy (default: stack.timeout).",
        "keep-on-failure": "Leave a stack that failed to start running, for inspection.",
        "port": "Host port of the proxy (default: stack.port, 8080).",
    }
)
def up(
    c: Context,
    env: str = "",
    no_build: bool = False,
    timeout: int = 0,
    keep_on_failure: bool = False,
    port: int = 0,
) -> None:
    """Start app, api-proxy and fake Gemini, wait until healthy, answer one request."""
    from rich.console import Console

    from gemini_workflow import stack
    from gemini_workflow.errors import WorkflowError

    console = Console()
    try:
        plan = _stack_plan(c, env, port)
        client = stack.engine_client()
        missing = stack.missing_images(client, [plan.images.app, plan.images.fake])
        if missing and no_build:
            raise Exit(f"missing {', '.join(missing)}: run `invoke build` (or drop --no-build)")
        if missing:
            console.print(f"building missing images: {', '.join(missing)}")
            build(c, target=stack.build_target(plan.images, missing))
        result = stack.bring_up(
            plan,
            client,
            console,
            timeout=timeout or int(c.config.stack.timeout),
            keep_on_failure=keep_on_failure,
            log_lines=int(c.config.stack.log_lines),
        )
        stack.greet(plan, result, console)
    except WorkflowError as exc:
        raise Exit(str(exc)) from exc


@task(help={"volumes": "Also remove the stack's volumes."})
def down(c: Context, volumes: bool = False) -> None:
    """Stop and remove the stack's containers and network (and the key file `up` wrote)."""
    from gemini_workflow import stack

    project = str(c.config.stack.project)
    result = stack.compose_down(ROOT, project, volumes=volumes)
    stack.forget_secret(ROOT, project)
    if result.returncode != 0:
        raise Exit(f"docker compose down failed:\n{result.stderr.strip()}")
    print(f"stack {project} removed")


@task(
    help={
        "service": "Only this service: gemini-app, api-proxy or fake-gemini (default: all).",
        "follow": "Keep streaming new lines until Ctrl-C.",
    },
)
def logs(c: Context, service: str = "", follow: bool = False) -> None:
    """Show the stack's logs (the last 200 lines per service)."""
    from gemini_workflow import stack

    args = ["logs", "--tail", "200"] + (["--follow"] if follow else []) + [service] * bool(service)
    c.run(shlex.join(stack.compose_command(ROOT, str(c.config.stack.project), *args)), pty=follow)


@task
def ps(c: Context) -> None:
    """List the stack's services with state, health and published ports."""
    from rich.console import Console

    from gemini_workflow import stack
    from gemini_workflow.errors import WorkflowError

    project = str(c.config.stack.project)
    try:
        states = stack.service_states(stack.engine_client(), project)
    except WorkflowError as exc:
        raise Exit(str(exc)) from exc
    if not states:
        raise Exit(f"stack {project} is not running: start it with `invoke up`")
    Console().print(stack.status_table(states))


ns = Collection(version, bootstrap, lock, build, up, down, logs, ps, push, verify, registry_tasks)
ns.configure(CONFIG)
