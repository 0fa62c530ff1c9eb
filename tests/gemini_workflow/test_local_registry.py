"""registry.up/down as processes: a stand-in binary plays docker-registry (same CLI, same
config file, answers /v2/), so lifecycle, idempotency and ownership are tested anywhere.
The real registry runs in tests/smoke/test_release.py."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gemini_workflow import local_registry
from gemini_workflow.local_registry import LocalRegistry, LocalRegistryError
from gemini_workflow.ports import free_port

STAND_IN = f"""#!{sys.executable}
# Usage like docker-registry: serve CONFIG. Serves /v2/ on the config's http.addr.
import re, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
addr = re.search(r"addr: (\\S+)", open(sys.argv[2]).read())[1]
host, port = addr.rsplit(":", 1)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.end_headers()
    def log_message(self, *a):
        pass
print("serving", addr, flush=True)
HTTPServer((host, int(port)), H).serve_forever()
"""


@pytest.fixture
def binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "docker-registry"
    path.write_text(STAND_IN)
    path.chmod(0o755)
    monkeypatch.setattr(local_registry, "find_binary", lambda directory=None: path)
    return path


@pytest.fixture
def spec(tmp_path: Path, binary: Path) -> Iterator[LocalRegistry]:
    registry = LocalRegistry(state_dir=tmp_path / "state", port=free_port())
    yield registry
    local_registry.down(registry)


def test_up_starts_a_registry_with_a_generated_config(spec: LocalRegistry) -> None:
    said = local_registry.up(spec)

    assert said.startswith(f"started the local registry on {spec.address}")
    assert spec.client().ping()
    config = spec.config_file.read_text()
    assert f"addr: {spec.address}" in config
    assert f"rootdirectory: {spec.data_dir.resolve()}" in config
    assert "delete:\n    enabled: true" in config
    assert "auth" not in config  # Debian's default config turns htpasswd on; ours must not
    assert spec.data_dir.is_dir()
    assert int(spec.pid_file.read_text()) > 0


def test_up_twice_is_a_noop(spec: LocalRegistry) -> None:
    local_registry.up(spec)
    pid = spec.pid_file.read_text()

    assert local_registry.up(spec) == f"the local registry already runs on {spec.address}"
    assert spec.pid_file.read_text() == pid


def test_up_on_another_port_while_running_names_the_running_one(spec: LocalRegistry) -> None:
    local_registry.up(spec)
    other = LocalRegistry(state_dir=spec.state_dir, port=free_port())

    with pytest.raises(LocalRegistryError, match=f"already runs on {spec.address}"):
        local_registry.up(other)


def test_a_foreign_registry_on_the_port_is_not_taken_over(spec: LocalRegistry) -> None:
    class Foreign(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", spec.port), Foreign)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        with pytest.raises(LocalRegistryError, match="something else already serves"):
            local_registry.up(spec)
    finally:
        server.shutdown()
        server.server_close()
    assert not spec.pid_file.exists()


def test_down_stops_it_keeps_storage_and_is_idempotent(spec: LocalRegistry) -> None:
    local_registry.up(spec)
    pid = int(spec.pid_file.read_text())
    (spec.data_dir / "blob").write_text("kept")

    assert local_registry.down(spec) == f"stopped the registry on {spec.address}"
    assert not Path(f"/proc/{pid}").exists()
    assert not spec.client().ping()
    assert (spec.data_dir / "blob").exists()
    assert local_registry.down(spec) == "no local registry was running"


def test_down_purge_deletes_the_storage(spec: LocalRegistry) -> None:
    local_registry.up(spec)

    said = local_registry.down(spec, purge=True)

    assert said.endswith(f"deleted {spec.data_dir}")
    assert not spec.data_dir.exists()


def test_a_stale_pid_file_never_kills_someone_elses_process(spec: LocalRegistry) -> None:
    spec.state_dir.mkdir(parents=True)
    spec.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a registry

    assert local_registry.down(spec) == "no local registry was running"


def test_a_registry_that_dies_at_start_shows_its_log(
    spec: LocalRegistry, binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('bad config: no storage')\n")
    monkeypatch.setattr(local_registry, "READY_TIMEOUT", 1.0)

    with pytest.raises(LocalRegistryError, match="bad config: no storage"):
        local_registry.up(spec)


def test_a_missing_binary_points_at_bootstrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_registry.shutil, "which", lambda name: None)
    monkeypatch.setattr(local_registry, "tools_dir", lambda: tmp_path)

    with pytest.raises(LocalRegistryError, match="run `invoke bootstrap`, which fetches it"):
        local_registry.ensure_binary()


def test_the_binary_is_found_on_path_first_then_where_bootstrap_puts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = tmp_path / "docker-registry"
    fetched.write_text(STAND_IN)
    monkeypatch.setattr(local_registry.shutil, "which", lambda name: None)
    assert local_registry.find_binary(tmp_path) == fetched
    monkeypatch.setattr(local_registry.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert local_registry.find_binary(tmp_path) == Path("/usr/bin/docker-registry")


def test_tools_live_system_wide_for_root_and_per_user_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert local_registry.tools_dir() == Path("/usr/local/lib/gemini-service")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert local_registry.tools_dir() == Path.home() / ".local/share/gemini-service"
