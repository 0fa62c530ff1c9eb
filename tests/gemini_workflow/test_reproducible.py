"""How two builds of one commit are compared, and how a difference is reported."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from gemini_workflow import reproducible


def layer(*files: tuple[str, bytes, int]) -> bytes:
    """A layer tarball holding (name, content, mtime) files, in that order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content, mtime in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), mtime
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_identical_layers_have_no_differences() -> None:
    same = layer(("etc/passwd", b"app", 0))
    assert reproducible.layer_differences(same, same) == []


def test_a_file_with_another_date_is_named_with_the_field_that_differs() -> None:
    found = reproducible.layer_differences(
        layer(("etc/shadow", b"app:!:20785", 0)), layer(("etc/shadow", b"app:!:20785", 9))
    )
    assert found == ["etc/shadow: mtime 0 -> 9"]


def test_changed_content_added_files_and_order_are_all_reported() -> None:
    first = layer(("a.pyc", b"one", 0), ("b", b"x", 0))
    assert reproducible.layer_differences(first, layer(("a.pyc", b"two", 0), ("b", b"x", 0)))[
        0
    ].startswith("a.pyc: content ")
    assert reproducible.layer_differences(first, layer(("a.pyc", b"one", 0))) == [
        "b: only in the first build"
    ]
    reordered = layer(("b", b"x", 0), ("a.pyc", b"one", 0))
    assert reproducible.layer_differences(first, reordered) == ["the same entries in another order"]


def test_long_reports_are_cut_with_a_count() -> None:
    many_a = layer(*((f"f{i}", b"a", 0) for i in range(12)))
    many_b = layer(*((f"f{i}", b"b", 0) for i in range(12)))
    found = reproducible.layer_differences(many_a, many_b, limit=3)
    assert len(found) == 4
    assert found[-1] == "... and 9 more"


def test_a_rebuild_is_the_same_only_with_the_same_image_id() -> None:
    assert reproducible.Rebuilt("app", "a", "b", "sha256:1", "sha256:1").same
    assert not reproducible.Rebuilt("app", "a", "b", "sha256:1", "sha256:2").same


def test_a_fresh_clone_is_the_commit_with_the_wheelhouse_and_goes_away(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for command in (
        ["git", "init", "-q"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty",
         "-m", "one"],
    ):  # fmt: skip
        subprocess.run(command, cwd=repo, check=True)
    (repo / "build/wheelhouse").mkdir(parents=True)
    (repo / "build/wheelhouse/x-1-py3-none-any.whl").write_text("")
    (repo / "build/wheelhouse.sha256").write_text("digest\n")
    (repo / "uncommitted.txt").write_text("not in the commit")
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()

    with reproducible.fresh_clone(repo, revision) as clone:
        assert (clone / "build/wheelhouse/x-1-py3-none-any.whl").exists()
        assert not (clone / "uncommitted.txt").exists()
    assert not clone.exists()


def test_an_unknown_revision_is_an_error_naming_the_command(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with (
        pytest.raises(reproducible.WorkflowError, match=r"git -C .* checkout"),
        reproducible.fresh_clone(tmp_path, "0" * 40),
    ):
        pass
