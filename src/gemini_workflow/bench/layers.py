"""An image's size and layers, and what a rebuild changed, read from the engine.

Sizes are uncompressed: a layer's bytes in `docker save`, keyed by its diff id (the id in
`RootFS.Layers`), so two images can be compared layer by layer. Both archive layouts are read:
Docker 24's (`<id>/layer.tar`) and the OCI layout Docker 25 and later write (`blobs/sha256/`).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from typing import Any

from gemini_workflow import docker_engine
from gemini_workflow.errors import WorkflowError


def inspect(client: Any, ref: str) -> dict[str, Any]:
    found = docker_engine.inspect_image(client, ref)
    if found is None:
        raise WorkflowError(f"image {ref} is not in the engine")
    return found


def image_size(client: Any, ref: str) -> int:
    return int(inspect(client, ref)["Size"])


def layer_ids(client: Any, ref: str) -> list[str]:
    return list(inspect(client, ref)["RootFS"]["Layers"])


class _ChunkReader(io.RawIOBase):
    """A file-like view of a chunk iterator, so tarfile can stream `docker save`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def layer_sizes(client: Any, ref: str) -> dict[str, int]:
    """Uncompressed bytes of each layer, keyed by diff id, read from `docker save`."""
    chunks = docker_engine.save_image(client, ref)
    reader = io.BufferedReader(_ChunkReader(iter(chunks)), 1 << 20)
    sizes_by_path: dict[str, int] = {}
    links: dict[str, str] = {}
    manifest: list[dict[str, Any]] = []
    with tarfile.open(fileobj=reader, mode="r|") as archive:
        for member in archive:
            if member.name == "manifest.json":
                extracted = archive.extractfile(member)
                manifest = json.load(extracted) if extracted else []
            elif member.issym():  # a layer shared with another image of the archive
                links[member.name] = os.path.normpath(
                    os.path.join(os.path.dirname(member.name), member.linkname)
                )
            elif member.isfile():
                # Any file may be a layer: `<id>/layer.tar` up to Docker 24, an OCI blob
                # (`blobs/sha256/<digest>`) from Docker 25 on. The manifest says which are.
                sizes_by_path[member.name] = member.size
    paths = manifest[0]["Layers"] if manifest else []
    return {
        diff_id: sizes_by_path.get(links.get(path, path), 0)
        for diff_id, path in zip(layer_ids(client, ref), paths, strict=True)
    }


def changed_bytes(client: Any, before: str, after: str) -> int:
    """Bytes of the layers `after` has and `before` lacks: what a push would upload."""
    old = set(layer_ids(client, before))
    return sum(size for diff_id, size in layer_sizes(client, after).items() if diff_id not in old)
