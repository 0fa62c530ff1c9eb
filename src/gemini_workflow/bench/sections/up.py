"""Row (5): `invoke up` (images built) to a healthy stack, next to bare `compose up --wait`.

`invoke up --no-build` runs as a person runs it, on this run's images, under this run's
project name, port and env file; the reference is the same stack started by the harness,
timed from `docker compose up --wait` to its return (UpResult.seconds).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from gemini_workflow import config
from gemini_workflow.bench.building import build_setup, stack_images
from gemini_workflow.bench.report import Report, Stats, at_most, figure
from gemini_workflow.bench.run import BenchRun
from gemini_workflow.dev_drive import HIDDEN  # never the real API (the env file pins the fake too)
from gemini_workflow.errors import WorkflowError
from gemini_workflow.stack import StackPlan, read_env_file, resolve_env_file


def invoke_up_seconds(plan: StackPlan) -> float:
    """Time `invoke up --no-build` for the plan's project, port, env file and images.

    The images are pinned (stack.app_image/fake_image) to the ones this run built: the
    default tags follow the commit, which may move while the bench runs. The caller removes
    the stack (it is one of the run's).
    """
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    env |= {
        "INVOKE_STACK_PROJECT": plan.project,
        "INVOKE_STACK_ENV": str(plan.env_file),
        "INVOKE_STACK_APP_IMAGE": plan.images.app,
        "INVOKE_STACK_FAKE_IMAGE": plan.images.fake,
    }
    command = [sys.executable, "-m", "invoke", "up", "--no-build", "--port", str(plan.port)]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=plan.root, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise WorkflowError(f"`invoke up` failed (exit {done.returncode}):\n{output}")
    return seconds


def default_env(run: BenchRun) -> dict[str, str]:
    """What `invoke up` starts with by default (compose/env/dev.env unless configured)."""
    return read_env_file(resolve_env_file(run.root, str(config.load(run.root)["stack"]["env"])))


def measure(run: BenchRun, report: Report) -> None:
    """`invoke up` (images already built) to a healthy stack, next to bare `compose up --wait`."""
    setup = build_setup(run.root)
    images = stack_images(run, setup)
    env = default_env(run)
    invoke_runs: list[float] = []
    compose_runs: list[float] = []
    for n in range(run.options.runs):
        run.console.print(f"invoke up -> healthy, run {n + 1}/{run.options.runs}")
        plan = run.stack_plan(f"up{n}", images, env)
        try:
            invoke_runs.append(invoke_up_seconds(plan))
        finally:
            run.stop_stack(plan)
        with run.stack(f"compose{n}", images, env) as stack:
            compose_runs.append(stack.up_seconds)
    report.add(
        figure(
            "invoke_up_to_healthy",
            "(5) invoke up -> healthy stack",
            "s",
            Stats.of(invoke_runs),
            Stats.of(compose_runs),
            "compose up --wait",
            "< 10 s",
            at_most(10.0),
            note="invoke up includes its first answered request through the proxy",
        )
    )
