"""Workflow tasks: `invoke --list` shows them, `invoke --help TASK` explains one.

Tasks stay thin: the logic worth testing lives in src/gemini_workflow/, defaults in
gemini_workflow/config.py, overridable in invoke.yaml or with INVOKE_* variables (for example
INVOKE_STACK_PORT=9090 invoke up). Every failure ends as one message that says what to do.
The everyday tasks sit at the top level; each also lives in the namespace of its concern.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from gemini_workflow.cli import console, reported
from gemini_workflow.config import DEFAULTS

if TYPE_CHECKING:
    from gemini_workflow.stack import StackPlan

# The checkout this tasks.py belongs to (a clone run with another checkout's .venv included).
ROOT = Path(__file__).resolve().parent


@task
def version(c: Context) -> None:
    """Print the project version from pyproject.toml."""
    from gemini_service import __version__

    print(__version__)


# --- host -----------------------------------------------------------------------------------


@task(
    help={
        "offline": "Use the offline path even where Docker Hub answers (to try what CI does).",
        "test-tools": "Also install what the test sessions drive: wrk and Chromium (Debian).",
    }
)
@reported
def bootstrap(c: Context, offline: bool = False, test_tools: bool = False) -> None:
    """Prepare this host: toolchain check, engine, compose, buildx and, offline, base images."""
    from gemini_workflow import host

    options = host.Options(
        root=ROOT,
        python_version=str(c.config.image.python_version),
        force_offline=offline,
        test_tools=test_tools,
    )

    def show(step: host.Step) -> None:
        mark = "[green]+[/]" if step.changed else "[dim]=[/]"
        console().print(f"{mark} {step.name}: {step.detail} [dim]({step.seconds:.1f} s)[/]")

    with console().status("bootstrapping (a fresh host takes about a minute)"):
        steps = host.bootstrap(c, options, on_step=show)
    console().print(host.summary(steps))
    # Invoke read invoke.yaml before bootstrap (re)wrote it; read it again so the tasks after
    # this one in the same run (`invoke bootstrap up`) see offline mode and the stand-ins.
    c.config.set_project_location(str(ROOT))
    c.config.load_project()


# --- images ---------------------------------------------------------------------------------


@task(
    help={
        "no-cache": "Rebuild every layer (e.g. to pick up base image security fixes).",
        "target": "app, fake or all (default).",
        "python-version": "Python major.minor (default: image.python_version in config).",
        "name": "Image repository name (default: image.name in config); the fake adds -fake.",
        "verify-reproducible": "Then rebuild the commit from a fresh clone without cache and"
        " fail, naming the first differing layer and file, unless the image IDs are the same.",
    }
)
@reported
def build(
    c: Context,
    no_cache: bool = False,
    target: str = "all",
    python_version: str = "",
    name: str = "",
    verify_reproducible: bool = False,
) -> None:
    """Build the app and fake images, print their anatomy, fail on budgets, secrets, root.

    Each image gets a CycloneDX SBOM in build/sbom/, checked against the image lock.
    """
    from gemini_workflow import docker_engine, image_checks, images

    request = images.request_from_config(
        c.config,
        root=ROOT,
        target=target,
        python_version=python_version,
        name=name,
        no_cache=no_cache,
        environ=os.environ,
    )
    client = docker_engine.connect()
    try:
        reports = images.build_images(request, client=client)
    except image_checks.ImageCheckFailed as exc:
        console().print(image_checks.report_table(exc.reports))
        raise
    console().print(image_checks.report_table(reports))
    if verify_reproducible:
        from gemini_workflow import reproducible

        with console().status("rebuilding this commit from a fresh clone, without cache"):
            results = reproducible.verify_build(request, reports, client)
        for result in results:
            console().print(f"[green]reproducible[/green]: {result.target} {result.original_id}")
    for report in reports:
        if report.sbom is not None:
            console().print(
                f"sbom: {report.sbom.relative_to(ROOT)} (CycloneDX, checked against the lock)"
            )


@task(help={"upgrade": "Move every dependency to its newest allowed version."})
@reported
def lock(c: Context, upgrade: bool = False) -> None:
    """Resolve uv.lock from pyproject.toml; export the image's locks (runtime, build backend)."""
    from gemini_workflow import lockfile

    c.run(shlex.join(lockfile.lock_command(upgrade=upgrade)))
    written = ", ".join(str(path) for path in lockfile.write_image_locks(ROOT))
    print(f"wrote {lockfile.UV_LOCK}, {written}; commit them with pyproject.toml")


def _client_keys_ready(path: Path | None) -> None:
    """With client keys wanted (--auth), make sure the key file exists, and say if it was made."""
    from gemini_workflow import client_keys

    if path is not None and client_keys.ensure(path):
        console().print(client_keys.created(path, ROOT))


# --- stack ----------------------------------------------------------------------------------


@task(
    help={
        "env": "dev (default), test or prod, i.e. compose/env/NAME.env, or an env file's path.",
        "no-build": "Fail instead of building images that are missing.",
        "timeout": "Seconds to wait for every service to be healthy (default: stack.timeout).",
        "keep-on-failure": "Leave a stack that failed to start running, for inspection.",
        "port": "Host port of the proxy (default: stack.port, 8080).",
        "auth": "Require client keys (deploy.client_keys, created with one key if absent):"
        " `Authorization: Bearer <key>` on /generate, rate-limited per key at the proxy.",
    }
)
@reported
def up(
    c: Context,
    env: str = "",
    no_build: bool = False,
    timeout: int = 0,
    keep_on_failure: bool = False,
    port: int = 0,
    auth: bool = False,
) -> None:
    """Start app, api-proxy and fake Gemini, wait until healthy, answer one request."""
    from gemini_workflow import diagnosis, stack_up

    plan, client = _stack_ready(c, env=env, port=port, auth=auth, no_build=no_build)
    wait = timeout or int(c.config.stack.timeout)
    with console().status("starting the stack") as status:
        result = stack_up.start(
            plan,
            client,
            timeout=wait,
            keep_on_failure=keep_on_failure,
            log_lines=int(c.config.stack.log_lines),
            progress=lambda states, elapsed: status.update(
                diagnosis.progress_line(states, elapsed, wait)
            ),
        )
    stack_up.greet(plan, result, console())


def _stack_ready(
    c: Context, *, env: str, port: int, auth: bool, no_build: bool
) -> tuple[StackPlan, Any]:
    """What `up` and `dev` do before starting: plan, key file, engine, images; say the plan."""
    from gemini_workflow import docker_engine, stack

    plan = stack.plan_from_config(
        c.config, root=ROOT, env=env, port=port, environ=os.environ, auth=auth
    )
    _client_keys_ready(plan.client_keys)
    client = docker_engine.connect(timeout=30)
    _build_missing(c, client, plan, no_build)
    console().print(plan.summary())
    return plan, client


def _build_missing(c: Context, client: Any, plan: StackPlan, no_build: bool) -> None:
    """`up` and `dev` start this commit's images: build the missing ones, or say how to."""
    from gemini_workflow import stack, stack_up

    missing = stack_up.missing_images(client, [plan.images.app, plan.images.fake])
    if missing and no_build:
        raise stack.StackError(
            f"missing {', '.join(missing)}: run `invoke build` (or drop --no-build)"
        )
    if missing:
        console().print(f"building missing images: {', '.join(missing)}")
        build(c, target=stack_up.build_target(plan.images, missing))


@task(
    help={
        "env": "dev (default) or test, i.e. compose/env/NAME.env, or the path of an env file.",
        "no-build": "Fail instead of building images that are missing.",
        "timeout": "Seconds to wait for every service to be healthy (default: stack.timeout).",
        "port": "Host port of the proxy (default: stack.port, 8080).",
        "auth": "Require client keys, as `invoke up --auth` does.",
    }
)
@reported
def dev(
    c: Context,
    env: str = "",
    no_build: bool = False,
    timeout: int = 0,
    port: int = 0,
    auth: bool = False,
) -> None:
    """The stack of `up`, live: a save under src/gemini_service is served in about 2 s.

    docker compose watch syncs the change into gemini-app and restarts it (a change to
    pyproject.toml or a lock rebuilds the image). Ctrl-C stops it and removes the stack.
    """
    from gemini_workflow import dev as developing
    from gemini_workflow import images

    plan, client = _stack_ready(c, env=env, port=port, auth=auth, no_build=no_build)
    request = images.request_from_config(c.config, root=ROOT, environ=os.environ)
    developing.run(
        developing.plan(plan, request, images.read_source_info(ROOT)),
        client,
        console(),
        timeout=timeout or int(c.config.stack.timeout),
        log_lines=int(c.config.stack.log_lines),
    )


@task(help={"volumes": "Also remove the stack's volumes."})
@reported
def down(c: Context, volumes: bool = False) -> None:
    """Stop and remove the stack's containers and network (and the key file `up` wrote)."""
    from gemini_workflow import stack, stack_up

    stack_up.stop(stack.plan_from_config(c.config, root=ROOT, environ={}), volumes=volumes)
    print(f"stack {c.config.stack.project} removed")


@task(
    help={
        "service": "Only this service: gemini-app, api-proxy or fake-gemini (default: all).",
        "follow": "Keep streaming new lines until Ctrl-C.",
    },
)
@reported
def logs(c: Context, service: str = "", follow: bool = False) -> None:
    """Show the stack's logs (the last 200 lines per service)."""
    from gemini_workflow.compose import ComposeProject

    project = ComposeProject(str(c.config.stack.project))
    args = [
        "logs",
        "--tail",
        "200",
        *(["--follow"] if follow else []),
        *([service] * bool(service)),
    ]
    c.run(shlex.join(project.command(*args)), pty=follow)


@task
@reported
def ps(c: Context) -> None:
    """List the stack's services with state, health and published ports."""
    from gemini_workflow import diagnosis, docker_engine
    from gemini_workflow.compose import ComposeProject
    from gemini_workflow.stack import StackError

    name = str(c.config.stack.project)
    states = ComposeProject(name).states(docker_engine.connect(timeout=30))
    if not states:
        raise StackError(f"stack {name} is not running: start it with `invoke up`")
    console().print(diagnosis.status_table(states))


# --- release --------------------------------------------------------------------------------


@task(
    help={
        "registry": "HOST[/NAMESPACE] to push to, e.g. 127.0.0.1:5000/llm-apps "
        "(default: release.* in config).",
        "force": "Replace a version tag that already points to different content.",
        "no-verify": "Skip the pull-by-digest check that runs the pushed image (invoke verify).",
    }
)
@reported
def push(c: Context, registry: str = "", force: bool = False, no_verify: bool = False) -> None:
    """Push this commit's image as <version>, <major.minor>, <major>, sha-<7>, latest; verify it."""
    from gemini_workflow import images, publish, release

    name = str(c.config.image.name)
    record_path = ROOT / str(c.config.release.record)
    repository = release.target_repository(
        release.configured_registry(registry, c.config.release), name
    )
    with console().status(f"pushing to {repository}") as status:
        result = publish.push_release(
            root=ROOT,
            repository=repository,
            image_name=name,
            force=force,
            record_path=record_path,
            build=lambda: images.build_images(
                images.request_from_config(c.config, root=ROOT, quiet=True, environ=os.environ)
            ),
            progress=status.update,
        )
    console().print(publish.summary_table(result))
    console().print(publish.summary_line(result, record_path.relative_to(ROOT)))
    if not no_verify:
        verify(c, result.record.ref)


@task(
    help={
        "ref": "HOST/PATH[:TAG|@sha256:...] to verify (default: the last push's record).",
        "rebuild": "Also rebuild the image from the commit it names, without cache, and fail"
        " unless the rebuild has the same image ID (same base digest needed).",
    },
)
@reported
def verify(c: Context, ref: str = "", rebuild: bool = False) -> None:
    """Prove a pushed image works on a clean host: pull by digest, run it against the fake."""
    from gemini_workflow import verify as verifying

    with console().status("verifying") as status:
        report = verifying.verify_from_config(c.config, root=ROOT, ref=ref, progress=status.update)
    for note in report.notes:
        console().print(f"[yellow]note:[/] {note}")
    console().print(verifying.summary_line(report))
    if rebuild:
        from gemini_workflow import docker_engine, images, reproducible

        request = images.request_from_config(c.config, root=ROOT, quiet=True, environ=os.environ)
        with console().status("rebuilding the release's commit from a fresh clone, no cache"):
            result = reproducible.rebuild_release(request, report.image_id, docker_engine.connect())
        console().print(
            f"[green]reproducible[/green]: the rebuild is {result.rebuilt_id}, as pushed"
        )


# --- deploy ---------------------------------------------------------------------------------


@task(
    default=True,
    name="swarm",
    help={
        "ref": "HOST/PATH@sha256:... to deploy (default: the `ref` of build/release.json).",
        "env": "prod (default), dev, test, or the path of an env file.",
        "port": "Host port api-proxy publishes (default: deploy.port, 8080).",
        "replicas": "gemini-app tasks (default: deploy.replicas, 2).",
        "timeout": "Seconds to wait for the stack to converge (default: deploy.timeout).",
    },
)
@reported
def deploy_swarm(
    c: Context, ref: str = "", env: str = "", port: int = 0, replicas: int = 0, timeout: int = 0
) -> None:
    """Deploy a release by digest to Docker Swarm or roll to it: health-gated, rolls back itself."""
    from gemini_workflow import docker_engine
    from gemini_workflow.deploy import plan as planning
    from gemini_workflow.deploy import rollout, swarm

    plan = planning.plan_from_config(
        c.config, root=ROOT, environ=os.environ, ref=ref, env=env, port=port, replicas=replicas
    )
    client = docker_engine.connect(timeout=60)
    if swarm.role(client) == "inactive":
        console().print("this engine is in no swarm: creating a single-node swarm on 127.0.0.1")
    console().print(f"deploying {plan.app} as stack {plan.stack}")
    with console().status("deploying") as status:
        outcome = rollout.deploy(
            plan, client, timeout=timeout or int(c.config.deploy.timeout), progress=status.update
        )
    rollout.greet(plan, outcome, console())


@task(help={"timeout": "Seconds to wait for the stack to converge (default: deploy.timeout)."})
@reported
def rollback(c: Context, timeout: int = 0) -> None:
    """Roll back to the release deployed before the current one (rolling, health-gated)."""
    from gemini_workflow.deploy import rollout
    from gemini_workflow.deploy.history import History, history_path

    history = History.load(history_path(ROOT, str(c.config.deploy.stack)))
    if history.previous is None:
        raise rollout.DeployError(
            "no earlier release was deployed from here: nothing to go back to"
        )
    console().print(f"rolling back to {history.previous}")
    options = history.options
    deploy_swarm(
        c,
        ref=history.previous,
        env=str(options.get("env", "")),
        port=int(options.get("port", 0)),
        replicas=int(options.get("replicas", 0)),
        timeout=timeout,
    )


@task
@reported
def status(c: Context) -> None:
    """Show the stack's services: replicas running/desired, the image each runs, last update."""
    from gemini_workflow import docker_engine
    from gemini_workflow.deploy import rollout, swarm

    stack = str(c.config.deploy.stack)
    statuses = swarm.statuses(docker_engine.connect(timeout=30), stack)
    if not statuses:
        raise swarm.SwarmError(f"stack {stack} is not deployed: run `invoke deploy`")
    console().print(rollout.status_table(statuses))


@task(
    name="down",
    help={"leave": "Also leave the swarm, if `invoke deploy` created it (single-node swarms)."},
)
@reported
def deploy_down(c: Context, leave: bool = False) -> None:
    """Remove the stack with its secrets, configs and network (and the swarm, with --leave)."""
    from gemini_workflow import docker_engine
    from gemini_workflow.deploy import rollout

    stack = str(c.config.deploy.stack)
    with console().status(f"removing stack {stack}"):
        done = rollout.take_down(ROOT, stack, docker_engine.connect(timeout=60), leave=leave)
    for line in done:
        print(line)


@task(
    name="render",
    help={
        "target": "kubernetes or cloudrun: what to write into build/deploy/<target>/.",
        "ref": "HOST/PATH@sha256:... to render (default: the `ref` of build/release.json).",
        "overlay": "kubernetes: base (default) or fake-upstream (adds the fake Gemini).",
        "fake-ref": "fake-upstream: HOST/PATH@sha256:... of a pushed <name>-fake image"
        " (default: the release image, which ships the fake's code).",
    },
)
@reported
def deploy_render(
    c: Context, target: str = "", ref: str = "", overlay: str = "", fake_ref: str = ""
) -> None:
    """Write Kubernetes or Cloud Run manifests pinned to a release digest, validated offline."""
    from gemini_workflow.deploy import commands
    from gemini_workflow.deploy import render as rendering

    result = rendering.render_from_config(
        c.config, root=ROOT, target=target, ref=ref, overlay=overlay, fake_ref=fake_ref
    )
    for line in rendering.summary(result, ROOT):
        console().print(line)
    keys = str(c.config.deploy.client_keys)
    _client_keys_ready(ROOT / keys)
    render_dir = str(c.config.deploy.render_dir)
    console().print("apply it (docs/deploying.md explains each step):")
    for line in commands.script(target, overlay, render_dir, keys):
        console().print(line, style="dim" if line.startswith("#") else None, markup=False)


# --- local registry -------------------------------------------------------------------------


@task(name="up", help={"port": "Port on 127.0.0.1 (default: registry.port in config, 5000)."})
@reported
def registry_up(c: Context, port: int = 0) -> None:
    """Start a local registry (storage in .local/registry); a no-op when it already runs."""
    from gemini_workflow import local_registry

    spec = local_registry.from_config(c.config, root=ROOT, port=port)
    print(local_registry.up(spec))
    print(f"push to it with: invoke push --registry {spec.address}/llm-apps")


@task(name="down", help={"purge": "Also delete the stored images."})
@reported
def registry_down(c: Context, purge: bool = False) -> None:
    """Stop the local registry; its storage stays unless --purge."""
    from gemini_workflow import local_registry

    print(local_registry.down(local_registry.from_config(c.config, root=ROOT), purge=purge))


# --- the collection -------------------------------------------------------------------------

ns = Collection(version, bootstrap, build, up, dev, down, logs, ps, push, verify)
ns.add_collection(Collection("images", build, lock))
ns.add_collection(Collection("stack", up, dev, down, logs, ps))
ns.add_collection(Collection("release", push, verify))
ns.add_collection(Collection("registry", registry_up, registry_down))
ns.add_collection(Collection("deploy", deploy_swarm, rollback, status, deploy_down, deploy_render))
ns.configure(DEFAULTS)
