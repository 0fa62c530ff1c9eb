"""`invoke deploy.render`: Kubernetes or Cloud Run manifests for one release, by digest.

No Kubernetes or Cloud Run runs where this project is developed, so a deploy to them is
rendered here, validated offline, and applied by the user with the commands in
docs/deploying.md (deploy/commands.py prints the same ones). The release is the swarm deploy's:
the `ref` of build/release.json or --ref, always by digest.

Everything is written into a temporary folder beside the target and renamed into place only
once every object has validated: a failed render leaves the previous output as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from gemini_workflow.deploy import cloudrun, kustomize, validation
from gemini_workflow.deploy.plan import pinned_release
from gemini_workflow.errors import WorkflowError
from gemini_workflow.release import ImageReference

TARGETS: Final = ("kubernetes", "cloudrun")
SOURCE: Final = Path("deploy/kubernetes")
OVERLAYS: Final = {"base": Path("base"), "fake-upstream": Path("overlays/fake-upstream")}
"""Every kustomization under SOURCE, by the name --overlay takes."""
APP_IMAGE: Final = "gemini-service"
FAKE_IMAGE: Final = "gemini-service-fake"
MANIFESTS: Final = "manifests.yaml"
HEADER: Final = (
    "# Rendered by `invoke deploy.render` from {source} for {ref}.\n"
    "# Do not edit: change the source and render again.\n"
)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing multi-line strings (inline patches) as `|` blocks."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)


class RenderError(WorkflowError):
    """The request cannot be rendered; the message says what to pass instead."""


@dataclass(frozen=True)
class Rendered:
    """What a render wrote, for the task's summary."""

    target: str
    directory: Path
    files: tuple[Path, ...]
    objects: tuple[str, ...]
    validated_against: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def render_from_config(
    config: Any, *, root: Path, target: str, ref: str = "", overlay: str = "", fake_ref: str = ""
) -> Rendered:
    """Render TARGET into `<deploy.render_dir>/<target>` for REF, or the last push's record."""
    if target not in TARGETS:
        raise RenderError(f"--target {target or '(none)'}: choose one of {', '.join(TARGETS)}")
    if overlay and target != "kubernetes":
        raise RenderError("--overlay applies to --target kubernetes only")
    if fake_ref and overlay != "fake-upstream":
        raise RenderError("--fake-ref applies to --overlay fake-upstream only")
    if overlay and overlay not in OVERLAYS:
        raise RenderError(f"--overlay {overlay}: choose one of {', '.join(OVERLAYS)}")
    app = pinned_release(ref, root / str(config["release"]["record"]))
    out = root / str(config["deploy"]["render_dir"]) / target
    if target == "cloudrun":
        return render_cloudrun(root, out, app)
    fake = pinned_release(fake_ref or str(app), root / str(config["release"]["record"]))
    return render_kubernetes(root, out, app, fake, overlay or "base")


def summary(result: Rendered, root: Path) -> list[str]:
    """What was written and checked, and what the person deploying must know (rich markup)."""
    lines = [
        f"[green]rendered[/green] {result.directory.relative_to(root)}: "
        + ", ".join(result.objects)
    ]
    if result.validated_against:
        versions = " and ".join(result.validated_against)
        lines.append(f"valid Kubernetes {versions} (strict schemas, offline); images by digest")
    return lines + [f"[yellow]note:[/] {note}" for note in result.notes]


def render_kubernetes(
    root: Path, out: Path, app: ImageReference, fake: ImageReference, overlay: str
) -> Rendered:
    """The kustomize tree with the digests set, and `manifests.yaml` of OVERLAY, all valid."""
    if overlay not in OVERLAYS:
        raise RenderError(f"--overlay {overlay}: choose one of {', '.join(OVERLAYS)}")
    pins = {OVERLAYS["base"]: {APP_IMAGE: app}, OVERLAYS["fake-upstream"]: {FAKE_IMAGE: fake}}
    with staging(out) as stage:
        shutil.copytree(root / SOURCE, stage, dirs_exist_ok=True)
        for folder, images in pins.items():
            pin_images(stage / folder / kustomize.FILE, images, SOURCE / folder)
        built = {name: build_staged(stage, folder) for name, folder in OVERLAYS.items()}
        for name, objects in built.items():
            validation.validate(objects, str(SOURCE / OVERLAYS[name]))
        write_documents(stage / MANIFESTS, built[overlay], SOURCE / OVERLAYS[overlay], app)
        files = sorted(path.relative_to(stage) for path in stage.rglob("*") if path.is_file())
    return Rendered(
        target="kubernetes",
        directory=out,
        files=tuple(out / path for path in files),
        objects=tuple(kustomize.object_id(o) for o in built[overlay]),
        validated_against=validation.KUBERNETES_VERSIONS,
    )


def build_staged(stage: Path, folder: Path) -> list[kustomize.Manifest]:
    """Build a kustomization of the staged copy; errors name the source, not the copy."""
    try:
        return kustomize.build(stage / folder)
    except kustomize.KustomizeError as error:
        raise kustomize.KustomizeError(str(error).replace(str(stage), str(SOURCE))) from None


def render_cloudrun(root: Path, out: Path, app: ImageReference) -> Rendered:
    """`service.yaml` for `gcloud run services replace`, with the image by digest."""
    service, notes = cloudrun.render(root / cloudrun.TEMPLATE, app)
    with staging(out) as stage:
        write_documents(stage / "service.yaml", [service], cloudrun.TEMPLATE, app)
    return Rendered(
        target="cloudrun",
        directory=out,
        files=(out / "service.yaml",),
        objects=(f"Service/{service['metadata']['name']}",),
        notes=tuple(notes),
    )


def pin_images(path: Path, images: Mapping[str, ImageReference], source: Path) -> None:
    """Set newName and digest on the `images:` entries named in IMAGES, in a copied tree.

    The copy's kustomization.yaml is rewritten without the source's comments (a YAML library
    that keeps them is not worth a dependency); its header points at the commented source.
    """
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = {entry["name"]: entry for entry in data.get("images") or []}
    for name, reference in images.items():
        if name not in entries:
            raise RenderError(
                f"{source / kustomize.FILE} has no `images:` entry named {name}: add"
                f" `- name: {name}` so deploy.render can pin it by digest"
            )
        entries[name].update(newName=str(reference.repository), digest=str(reference.digest))
    header = HEADER.format(source=source / kustomize.FILE, ref=", ".join(map(str, images.values())))
    path.write_text(header + yaml.dump(data, Dumper=_Dumper, sort_keys=False), encoding="utf-8")


def write_documents(
    path: Path, objects: Sequence[Mapping[str, Any]], source: Path, app: ImageReference
) -> None:
    """One multi-document YAML file, with a header saying where it comes from."""
    body = yaml.dump_all([dict(o) for o in objects], Dumper=_Dumper, sort_keys=False)
    path.write_text(HEADER.format(source=source, ref=app) + body, encoding="utf-8")


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A temporary folder that replaces OUT when the block succeeds, and vanishes if not."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent)).resolve()
    stage.chmod(0o755)  # mkdtemp's 0700 would become the output's mode: it holds no secret
    try:
        yield stage
        replace_dir(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def replace_dir(new: Path, out: Path) -> None:
    """Swap NEW into OUT with renames, so OUT is always either the old or the new render."""
    old = out.with_name(f".{out.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)
