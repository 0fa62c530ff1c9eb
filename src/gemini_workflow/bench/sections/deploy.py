"""Issue 10 on a real single-node swarm: deploy, roll, roll back, under load, with `invoke deploy`.

Everything goes through the `invoke deploy` command line as a person runs it, exactly as
tests/deploy does (swarm_deploy.py): the releases come by digest from a registry of this run
(releases.py); the stack has a name, port and client key file of this run; the fake is the
upstream whatever key is configured. The first deploy is timed until converged and answering,
next to `invoke up` of the compose stack in the same run. Then rolling updates alternate
between two good releases, and a release whose health check fails is rolled back by swarm,
each under wrk load through the published proxy, counting every failed request.
`invoke deploy.down --leave` ends it, registered with the run so it happens whatever fails. A
swarm this run did not create (another user's) is waited for, never joined or left.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from gemini_workflow import loadgen, wait
from gemini_workflow.bench import releases
from gemini_workflow.bench.building import build_setup, stack_images
from gemini_workflow.bench.report import Report, Stats, every_run_at_most, figure
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.bench.sections import up
from gemini_workflow.bench.swarm_deploy import Deployment, tail, under_load
from gemini_workflow.deploy import swarm
from gemini_workflow.errors import WorkflowError
from gemini_workflow.ports import free_port
from gemini_workflow.stack import Images

SWARM_WAIT_S: Final = 300
"""How long to wait for another user's swarm to go before giving up on the section."""


@dataclass(frozen=True)
class Roll:
    """One `invoke deploy --ref` under load: its wall time, requests sent, requests failed."""

    seconds: float
    requests: int
    failed: int


def no_foreign_swarm(run: BenchRun) -> None:
    """Wait until the engine is in no swarm: one that is there belongs to someone else."""
    if swarm.role(run.client) == "inactive":
        return
    run.console.print("the engine is already in a swarm (someone else's): waiting for it to go")
    wait.until(
        lambda: swarm.role(run.client) == "inactive",
        timeout=SWARM_WAIT_S,
        interval=5,
        what="the engine leaving the swarm another user made",
    )


def compose_reference(run: BenchRun, images: Images) -> float:
    """`invoke up` to a healthy compose stack: the same figure the `up` section takes, once."""
    plan = run.stack_plan("deploy-ref", images, up.default_env(run))
    try:
        return up.invoke_up_seconds(plan)
    finally:
        run.stop_stack(plan)


def deployment(run: BenchRun, app: str, fake: str) -> Deployment:
    keys = run.workdir / "client-keys"
    keys.write_text(f"{secrets.token_urlsafe(24)}\n")
    keys.chmod(0o600)
    return Deployment(f"gs-bench-{run.id}", free_port(), keys, run.root, (app, fake))


def first_deploy(run: BenchRun, where: Deployment, ref: str) -> float:
    run.console.print(f"invoke deploy of the first release as stack {where.stack}")
    seconds, done = where.invoke("deploy", "--ref", ref, "--port", str(where.port))
    if done.returncode != 0:
        raise WorkflowError(f"the first `invoke deploy` failed: {tail(done)}")
    return seconds


def roll(where: Deployment, ref: str, *, succeed: bool) -> Roll:
    """`invoke deploy --ref REF` under load; it must succeed (or, for a bad one, fail)."""
    (seconds, done), totals = under_load(
        where.target(), lambda: where.invoke("deploy", "--ref", ref)
    )
    if (done.returncode == 0) != succeed:
        outcome = "failed" if succeed else "succeeded"
        raise WorkflowError(f"`invoke deploy --ref {ref}` {outcome}: {tail(done)}")
    if not succeed and "rolled back by itself" not in " ".join(done.stderr.split()):
        raise WorkflowError(f"the bad release was refused, but not rolled back: {tail(done)}")
    return Roll(seconds, totals.requests, totals.failed)


def rolling_updates(run: BenchRun, where: Deployment, refs: releases.Releases) -> list[Roll]:
    """`runs` rolling updates under load, alternating between the two good releases."""
    done = []
    for n in range(run.options.runs):
        ref = refs.second if n % 2 == 0 else refs.first
        run.console.print(f"rolling update under load, {n + 1}/{run.options.runs}")
        done.append(roll(where, ref, succeed=True))
    return done


def measure(run: BenchRun, report: Report) -> None:
    """invoke deploy to healthy, rolling updates and a rollback under load, on a real swarm."""
    loadgen.ensure_wrk()
    images = stack_images(run, build_setup(run.root))
    no_foreign_swarm(run)
    run.console.print("reference: invoke up of the compose stack to healthy")
    reference = compose_reference(run, images)
    refs = releases.publish(run, images.app)
    where = deployment(run, images.app, images.fake)
    state = [run.root / part for part in (".local", ".local/deploy")]
    made = [path for path in state if not path.exists()]  # the deploy's history goes there

    def take_down() -> None:
        where.down()
        for path in reversed(made):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()

    down = run.defer(f"swarm stack {where.stack} (invoke deploy.down --leave)", take_down)
    healthy = first_deploy(run, where, refs.first)
    updates = rolling_updates(run, where, refs)
    run.console.print("a release that fails its health check, under load")
    rollback = roll(where, refs.bad, succeed=False)
    down()
    add_figures(report, healthy, reference, updates, rollback)


def add_figures(
    report: Report,
    healthy: float,
    reference: float,
    updates: list[Roll],
    rollback: Roll,
) -> None:
    report.add(
        figure(
            "deploy_to_healthy",
            "(10) invoke deploy -> converged and answering",
            "s",
            Stats.of([healthy]),
            Stats.of([reference]),
            "invoke up (compose)",
            "(reported)",
            note="one run each; the deploy includes creating the single-node swarm",
        )
    )
    report.add(
        figure(
            "rolling_update",
            "(10) rolling update, 2 app tasks",
            "s",
            Stats.of(u.seconds for u in updates),
            Stats.of([healthy]),
            "first deploy",
            "(reported)",
            note="start-first, one task at a time, 15 s health monitor each",
        )
    )
    for key, title, rolls in (
        ("update", "rolling updates", updates),
        ("rollback", "the rollback", [rollback]),
    ):
        report.add(
            figure(
                f"failed_during_{key}",
                f"(10) requests failed during {title}",
                "req",
                Stats.of(float(r.failed) for r in rolls),
                Stats.of(float(r.requests) for r in rolls),
                "requests sent",
                "0 in every run",
                every_run_at_most(0),
            )
        )
    report.add(
        figure(
            "bad_release_rolled_back",
            "(10) bad release: detected and rolled back",
            "s",
            Stats.of([rollback.seconds]),
            Stats.of(u.seconds for u in updates),
            "rolling update",
            "(reported)",
            note="`invoke deploy --ref BAD` until it exits non-zero, the previous release serving",
        )
    )
