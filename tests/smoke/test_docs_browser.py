"""/docs in a real browser, through the proxy, with every host but this one unreachable.

Headless Chromium (Debian's, installed by `invoke bootstrap --test-tools`) renders the page
with background networking off and every name other than 127.0.0.1 resolving to nothing, so
an asset loaded from a CDN would leave a blank page. The rendered DOM must list the three
operations; a screenshot is saved under build/ for people to look at.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemini_workflow import session_tools
from gemini_workflow.ports import free_port
from tests.smoke.test_stack import invoke, invoke_up, project_name

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "build" / "docs-page.png"
OPERATIONS = ("/generate", "/generate/stream", "/health")

pytestmark = pytest.mark.engine


def chromium(tmp_path: Path, url: str, *action: str) -> subprocess.CompletedProcess[str]:
    binary = session_tools.browser()
    assert binary, "no Chromium is installed: run `invoke bootstrap --test-tools`"
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",  # root in CI; the page is our own
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            # Offline, as an air-gapped host: any other host fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",  # let the page's scripts run to completion
            "--window-size=1280,1600",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def docs_url(stack_images: dict[str, str]) -> Iterator[str]:
    project, port = project_name(), free_port()
    started = invoke_up(project, stack_images, "--port", str(port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"(docs: http://127.0.0.1:{port}/docs)" in started.stdout
        yield f"http://127.0.0.1:{port}/docs"
    finally:
        invoke(project, "down")


def test_the_docs_page_lists_every_operation_rendered_offline(
    docs_url: str, tmp_path: Path
) -> None:
    rendered = chromium(tmp_path, docs_url, "--dump-dom")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = rendered.stdout
    assert "swagger-ui" in dom, dom[:1000]
    for path in OPERATIONS:
        assert f'data-path="{path}"' in dom, f"{path} is not on the rendered page"


def test_a_screenshot_of_the_page_is_saved_for_people(docs_url: str, tmp_path: Path) -> None:
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = chromium(tmp_path, docs_url, f"--screenshot={SCREENSHOT}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert SCREENSHOT.stat().st_size > 20_000, "the screenshot is (nearly) blank"
