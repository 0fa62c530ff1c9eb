"""The test sessions' host programs: found by any of their names, installed as root on Debian."""

from __future__ import annotations

import re

import pytest
from invoke.context import MockContext
from invoke.runners import Result

from gemini_workflow import debian, session_tools
from gemini_workflow.errors import WorkflowError

OK = Result(exited=0)


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian, "is_debian_root", lambda: True)


def on_path(monkeypatch: pytest.MonkeyPatch, *programs: str) -> None:
    """Only these programs exist, at /usr/bin."""
    monkeypatch.setattr(
        session_tools.shutil, "which", lambda p: f"/usr/bin/{p}" if p in programs else None
    )


def test_test_tools_present_are_left_alone_whichever_chromium_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_path(monkeypatch, "wrk", "google-chrome")
    assert session_tools.ensure(MockContext()) == (False, "wrk, Chromium present")


def test_missing_test_tools_are_installed_with_apt_as_root(
    as_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path(monkeypatch, "wrk")
    c = MockContext(run={re.compile(r"^apt-get update -qq && .* install -y -qq chromium$"): OK})
    assert session_tools.ensure(c) == (True, "installed chromium (Debian)")


def test_missing_test_tools_without_root_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(debian, "is_debian_root", lambda: False)
    on_path(monkeypatch)
    with pytest.raises(WorkflowError, match="sudo apt-get install wrk chromium"):
        session_tools.ensure(MockContext())


def test_the_browser_is_the_first_chromium_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(monkeypatch, "chromium-browser", "google-chrome")
    assert session_tools.browser() == "/usr/bin/chromium-browser"
    on_path(monkeypatch)
    assert session_tools.browser() is None
