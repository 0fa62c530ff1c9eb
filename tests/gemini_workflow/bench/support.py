"""Stand-ins for the bench tests: an engine that remembers what it was asked, a quiet run."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from docker.errors import ImageNotFound
from rich.console import Console

from gemini_workflow import config, loadgen
from gemini_workflow.bench.building import BuildSetup
from gemini_workflow.bench.run import BenchRun, Options
from gemini_workflow.stack import Images

SETUP = BuildSetup(
    python_base="base:1",
    proxy_image="nginx:1",
    args={"PYTHON_BASE": "base:1", "INDEX_OPTIONS": "--no-index --find-links /wheels"},
    offline=True,
)
IMAGES = Images(app="app:1", fake="fake:1", proxy="nginx:1")


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def result(p50: float, p99: float, requests: int = 100, ok: int = 100) -> loadgen.LoadResult:
    statuses = {200: ok} if ok == requests else {200: ok, 503: requests - ok}
    return loadgen.LoadResult(
        requests, 1.0, {"connect": 0, "read": 0}, {"p50": p50, "p99": p99}, statuses
    )


def saved_archive(
    layers: list[tuple[str, bytes]], *, link_last: bool = False, oci: bool = False
) -> bytes:
    """A `docker save` archive: one layer.tar per layer, in manifest order; or, with `oci`,
    Docker 25's layout: every layer a blob, next to a config blob that is not a layer."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        paths = []
        if oci:
            config = tarfile.TarInfo("blobs/sha256/c0ffee")
            config.size = 3000
            archive.addfile(config, io.BytesIO(b"c" * 3000))
        for n, (_diff_id, content) in enumerate(layers):
            path = f"blobs/sha256/{n:064x}" if oci else f"l{n}/layer.tar"
            info = tarfile.TarInfo(path)
            if link_last and n == len(layers) - 1:
                info.type, info.linkname = tarfile.SYMTYPE, "../l0/layer.tar"
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            paths.append(path)
        manifest = json.dumps([{"Layers": paths}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    return buffer.getvalue()


class FakeImage:
    def __init__(
        self,
        layers: Sequence[tuple[str, bytes]] = (),
        *,
        size: int = 1000,
        link_last: bool = False,
        oci: bool = False,
    ) -> None:
        self.attrs = {"Size": size, "RootFS": {"Layers": [d for d, _ in layers]}}
        self._tar = saved_archive(list(layers), link_last=link_last, oci=oci)

    def save(self, chunk_size: int = 700, named: bool = False) -> Iterator[bytes]:
        for start in range(0, len(self._tar), 700):  # chunks that split tar headers
            yield self._tar[start : start + 700]


class FakeImages:
    def __init__(self, images: dict[str, FakeImage]) -> None:
        self.by_tag = images

    def get(self, tag: str) -> FakeImage:
        if tag not in self.by_tag:
            raise ImageNotFound(tag)
        return self.by_tag[tag]


class FakeContainer:
    def __init__(self, name: str, engine: FakeEngine) -> None:
        self.name = name
        self._engine = engine

    def remove(self, force: bool = False) -> None:
        assert force, "a running container needs force"
        self._engine.containers.items.remove(self)
        self._engine.removed.append(self.name)


class FakeContainers:
    def __init__(self) -> None:
        self.items: list[FakeContainer] = []

    def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[Any]:
        name = (filters or {}).get("name")
        if name is not None:  # the engine's name filter matches substrings
            return [c for c in self.items if name in c.name]
        return [] if filters else list(self.items)


class FakeApi:
    def __init__(self, engine: FakeEngine) -> None:
        self._engine = engine

    def remove_image(self, ref: str, noprune: bool = False) -> None:
        if ref in self._engine.refuse:
            raise RuntimeError(f"conflict: {ref} is in use")
        self._engine.images.by_tag.pop(ref, None)
        self._engine.removed.append(ref)


class FakeEngine:
    """Images by tag, containers by name, and the list of what was removed, in order."""

    def __init__(self, images: dict[str, FakeImage] | None = None) -> None:
        self.images = FakeImages(dict(images or {}))
        self.containers = FakeContainers()
        self.api = FakeApi(self)
        self.removed: list[str] = []
        self.refuse: set[str] = set()

    def add_container(self, name: str) -> FakeContainer:
        container = FakeContainer(name, self)
        self.containers.items.append(container)
        return container

    def version(self) -> dict[str, str]:
        return {"Version": "20.10.24"}


def make_run(
    tmp_path: Path, engine: FakeEngine | None = None, *, runs: int = 2, root: Path | None = None
) -> BenchRun:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return BenchRun(
        Options(runs=runs, load_seconds=1.0, latency_seconds=1.0),
        quiet(),
        engine or FakeEngine(),
        workdir,
        run_id="r1",
        root=root or config.ROOT,
    )
