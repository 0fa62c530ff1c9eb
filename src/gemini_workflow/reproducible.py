"""Prove an image reproducible: rebuild its commit from a fresh clone without cache, compare.

Same commit, base digest, locks and build arguments must give the same image ID (the config
digest, which names every layer). When they do not, the first differing layer is unpacked from
both `docker save` streams and its entries compared, so the report names the file and what
about it differs (mtime, content, mode, ...), which is what it takes to fix a Dockerfile.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gemini_workflow import docker_engine, images, wheelhouse
from gemini_workflow.errors import WorkflowError
from gemini_workflow.image_checks import ImageReport, short
from gemini_workflow.release import REVISION_LABEL

ENTRY_FIELDS = ("type", "mode", "uid", "gid", "mtime", "linkname", "size", "content")


class NotReproducible(WorkflowError):
    """Two builds of one commit differ; the message names the first layer and file."""


@dataclass(frozen=True)
class Rebuilt:
    """One target built twice: the image at hand and the fresh clone's, and their IDs."""

    target: str
    original: str
    rebuilt: str
    original_id: str
    rebuilt_id: str

    @property
    def same(self) -> bool:
        return self.original_id == self.rebuilt_id


@contextmanager
def fresh_clone(root: Path, revision: str) -> Iterator[Path]:
    """A clone of `revision` in a temporary directory, with what an offline build needs.

    Its files get new mtimes (a clone writes them now), which is part of what is proven.
    The wheelhouse is copied: it is a build input the clone has no other way to get.
    """
    with tempfile.TemporaryDirectory(prefix="gemini-repro-") as tmp:
        clone = Path(tmp) / "repo"
        for command in (
            ["git", "clone", "--quiet", "--no-hardlinks", str(root), str(clone)],
            ["git", "-C", str(clone), "checkout", "--quiet", revision],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise WorkflowError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
        source = root / wheelhouse.WHEELHOUSE
        if source.is_dir():
            shutil.copytree(source, clone / wheelhouse.WHEELHOUSE)
            shutil.copy(root / wheelhouse.STAMP, clone / wheelhouse.STAMP)
        yield clone


def verify_build(
    request: images.BuildRequest, reports: Sequence[ImageReport], client: Any
) -> list[Rebuilt]:
    """`invoke build --verify-reproducible`: the images just built against a clean rebuild."""
    info = images.read_source_info(request.root)
    if info.dirty:
        raise WorkflowError(
            "the working tree has uncommitted changes: the images hold them, a clone of the"
            " commit would not. Commit or stash them, then run again"
        )
    originals = {report.target: report.tags[-1] for report in reports}
    with (
        fresh_clone(request.root, info.revision) as clone,
        rebuilt(request, clone, client) as fresh,
    ):
        results = compare(client, originals, fresh)
        report_failure(client, results)
    return results


@contextmanager
def rebuilt(request: images.BuildRequest, clone: Path, client: Any) -> Iterator[dict[str, str]]:
    """Every requested target built in `clone` without cache, under a throwaway name.

    Yields {target: image reference}; the images are removed afterwards, whatever happened.
    """
    name = f"{request.name}-repro-{secrets.token_hex(3)}"
    fresh = replace(request, root=clone, name=name, no_cache=True, quiet=True)
    reports = images.build_images(fresh, client=client)
    try:
        yield {report.target: report.tags[-1] for report in reports}
    finally:
        for report in reports:
            for tag in report.tags:
                docker_engine.remove_image(client, tag)


def compare(client: Any, originals: dict[str, str], rebuilt: dict[str, str]) -> list[Rebuilt]:
    return [
        Rebuilt(
            target,
            originals[target],
            rebuilt[target],
            _image_id(client, originals[target]),
            _image_id(client, rebuilt[target]),
        )
        for target in originals
    ]


def explain(client: Any, result: Rebuilt) -> str:
    """Where two images of one target part: the config, or the first layer and its files."""
    a, b = _saved(client, result.original), _saved(client, result.rebuilt)
    config_a, config_b = json.loads(a["config"]), json.loads(b["config"])
    fields = sorted(k for k in set(config_a) | set(config_b) if config_a.get(k) != config_b.get(k))
    lines = [f"{result.target}: {result.original_id[:19]} vs {result.rebuilt_id[:19]}"]
    layers_a, layers_b = config_a["rootfs"]["diff_ids"], config_b["rootfs"]["diff_ids"]
    pairs = zip(layers_a, layers_b, strict=False)  # a differing layer count shows in `fields`
    first = next((i for i, (x, y) in enumerate(pairs) if x != y), None)
    if first is None:
        lines.append(f"  every layer is the same; the config differs in: {', '.join(fields)}")
        return "\n".join(lines)
    history = [h for h in config_a.get("history", []) if not h.get("empty_layer")]
    made_by = history[first].get("created_by", "?") if first < len(history) else "?"
    lines.append(f"  first differing layer: #{first} ({short(made_by, 70)})")
    lines += [f"  {line}" for line in layer_differences(a["layers"][first], b["layers"][first])]
    return "\n".join(lines)


def layer_differences(layer_a: bytes, layer_b: bytes, limit: int = 8) -> list[str]:
    """Entries of two layer tarballs that differ, each with the fields that differ."""
    entries_a, entries_b = _entries(layer_a), _entries(layer_b)
    found: list[str] = []
    for name in [*entries_a, *(n for n in entries_b if n not in entries_a)]:
        if entries_a.get(name) == entries_b.get(name):
            continue
        if name not in entries_a or name not in entries_b:
            found.append(f"{name}: only in the {'first' if name in entries_a else 'second'} build")
        else:
            changed = [
                f"{field} {x} -> {y}"
                for field, x, y in zip(ENTRY_FIELDS, entries_a[name], entries_b[name], strict=True)
                if x != y
            ]
            found.append(f"{name}: {', '.join(changed)}")
    if not found and list(entries_a) != list(entries_b):
        found.append("the same entries in another order")
    more = len(found) - limit
    return found[:limit] + ([f"... and {more} more"] if more > 0 else [])


def report_failure(client: Any, results: Sequence[Rebuilt]) -> None:
    differing = [result for result in results if not result.same]
    if differing:
        details = "\n".join(explain(client, result) for result in differing)
        raise NotReproducible(
            f"the fresh clone's build differs:\n{details}\nmake every step above deterministic"
            " (docs/images.md, 'Reproducible images'), then run this again"
        )


def _image_id(client: Any, ref: str) -> str:
    found = docker_engine.inspect_image(client, ref)
    if found is None:
        raise WorkflowError(f"{ref} is not in the engine")
    return str(found["Id"])


def _saved(client: Any, ref: str) -> dict[str, Any]:
    """The config and every layer tarball of an image, from its `docker save` stream."""
    with tempfile.TemporaryFile() as spool:
        for chunk in docker_engine.save_image(client, ref):
            spool.write(chunk)
        spool.seek(0)
        with tarfile.open(fileobj=spool) as outer:
            manifest = json.load(_member(outer, "manifest.json"))[0]
            return {
                "config": _member(outer, manifest["Config"]).read(),
                "layers": [_member(outer, name).read() for name in manifest["Layers"]],
            }


def _member(archive: tarfile.TarFile, name: str) -> io.BufferedReader:
    found = archive.extractfile(name)
    if found is None:
        raise WorkflowError(f"`docker save` has no {name}")
    return found  # type: ignore[return-value]


def _entries(layer: bytes) -> dict[str, tuple[object, ...]]:
    entries: dict[str, tuple[object, ...]] = {}
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:*") as archive:
        for member in archive.getmembers():
            data = archive.extractfile(member) if member.isfile() else None
            content = hashlib.sha256(data.read()).hexdigest()[:16] if data else ""
            entries[member.name] = (
                member.type.decode(),
                oct(member.mode),
                member.uid,
                member.gid,
                int(member.mtime),
                member.linkname,
                member.size,
                content,
            )
    return entries


def rebuild_release(request: images.BuildRequest, image_id: str, client: Any) -> Rebuilt:
    """`invoke verify --rebuild`: rebuild a pushed app image from the commit its label names.

    The same base digest is part of "the same inputs": a release built on the official base
    and rebuilt on an offline host's stand-in differs from layer 0 on, and the report says so.
    """
    image = docker_engine.inspect_image(client, image_id)
    labels = ((image or {}).get("Config") or {}).get("Labels") or {}
    revision = labels.get(REVISION_LABEL, "")
    if not revision or revision == "unknown":
        raise WorkflowError(f"{image_id} carries no revision label: it cannot be rebuilt")
    app_only = replace(request, targets=("app",))
    with fresh_clone(request.root, revision) as clone, rebuilt(app_only, clone, client) as fresh:
        (result,) = compare(client, {"app": image_id}, fresh)
        report_failure(client, [result])
    return result
