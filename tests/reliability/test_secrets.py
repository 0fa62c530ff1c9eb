"""The API key never escapes: not in a response, a log line, `docker inspect`, or an image layer.

The stacks run with a canary key (see traffic.CANARY_KEY) mounted as a compose secret file.
Here every fault of the fake's catalogue is driven through the proxy, plain and streamed, with
debug logging on; the stack fixture's teardown also scans the logs of every other scenario.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gemini_service.fake.faults import CATALOGUE
from gemini_workflow import docker_engine, image_checks
from gemini_workflow.stack import Images
from gemini_workflow.stack_up import RunningStack
from tests.reliability.traffic import CANARY_KEY, Call, Outcome, leaks, send


def fault_calls() -> list[Call]:
    return [
        Call.generate(f"[[fault:{name}]] canary check", label=name, stream=stream)
        for name in CATALOGUE
        for stream in (False, True)
    ]


async def drive_every_fault(base_url: str) -> list[Outcome]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return list(await asyncio.gather(*(send(client, call) for call in fault_calls())))


def test_key_is_in_no_response_log_line_or_container_config_under_every_fault(
    clean_stack: RunningStack,
) -> None:
    outcomes = asyncio.run(drive_every_fault(clean_stack.proxy_url))

    assert all(o.status is not None for o in outcomes), [o.error for o in outcomes if o.error]
    assert {o.status for o in outcomes} - {200}, "no fault produced an error response"
    exposed = [
        o.call.label
        for o in outcomes
        if CANARY_KEY in o.text or any(CANARY_KEY in v for v in o.headers.values())
    ]
    assert not exposed, f"the key is in the responses to {exposed}"
    assert leaks(clean_stack, CANARY_KEY) == []


def test_key_reaches_the_app_as_a_file_not_an_environment_variable(
    clean_stack: RunningStack,
) -> None:
    env = clean_stack.container("gemini-app").attrs["Config"]["Env"]
    names = {item.split("=", 1)[0] for item in env}

    assert "GEMINI_API_KEY_FILE" in names
    assert "GEMINI_API_KEY" not in names


@pytest.mark.parametrize("which", ["app", "fake", "proxy"])
def test_key_is_in_no_image_layer(stack_images: Images, which: str) -> None:
    ref = getattr(stack_images, which)
    client = docker_engine.connect(timeout=300)

    saved = docker_engine.save_image(client, ref)
    found = image_checks.find_in_stream(saved, [CANARY_KEY.encode()])

    assert not found
