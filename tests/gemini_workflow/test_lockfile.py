"""The image lock is uv.lock's runtime export, and a stale lock of either kind is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gemini_workflow import lockfile

ROOT = Path(__file__).resolve().parents[2]


def project_copy(tmp_path: Path) -> Path:
    """pyproject.toml and both locks: all that the checks read (uv runs offline)."""
    (tmp_path / "containers").mkdir()
    for rel in ("pyproject.toml", "uv.lock", str(lockfile.LOCK), str(lockfile.BUILD_LOCK)):
        shutil.copy(ROOT / rel, tmp_path / rel)
    return tmp_path


def test_the_committed_locks_agree_with_pyproject() -> None:
    lockfile.check(ROOT)


def test_the_build_lock_pins_the_build_backend_with_hashes() -> None:
    text = (ROOT / lockfile.BUILD_LOCK).read_text()
    assert "\nhatchling==" in text
    assert "--hash=sha256:" in text
    assert "\nfastapi==" not in text


def test_the_image_lock_holds_runtime_pins_with_hashes_and_no_tools() -> None:
    text = (ROOT / lockfile.LOCK).read_text()
    assert text.startswith("# The image's runtime dependencies: uv.lock's export")
    assert "\ngoogle-genai==" in text
    assert "--hash=sha256:" in text
    for tool in ("invoke", "nox", "pytest", "pip", "uv", "google-generativeai"):
        assert f"\n{tool}==" not in text


def test_an_edited_image_lock_is_refused(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    lock = root / lockfile.LOCK
    lock.write_text(lock.read_text().replace("\nfastapi==", "\nfastapi==0.0.1\n# was "))
    with pytest.raises(lockfile.LockError, match=r"not the export of uv\.lock: run `invoke images"):
        lockfile.check(root)


def test_a_dependency_added_to_pyproject_makes_uv_lock_stale(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text().replace('"httptools>=0.6",', '"httptools>=0.6", "six",')
    pyproject.write_text(text)
    with pytest.raises(lockfile.LockError, match=r"uv\.lock is older than pyproject\.toml"):
        lockfile.check(root)


def test_writing_the_image_lock_restores_the_export(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    (root / lockfile.LOCK).write_text("stale\n")
    lockfile.write_image_locks(root)
    lockfile.check(root)


def test_lock_commands_use_the_uv_of_the_running_environment() -> None:
    import sys

    assert lockfile.lock_command() == [sys.executable, "-m", "uv", "lock"]
    assert lockfile.lock_command(upgrade=True)[-1] == "--upgrade"


SAMPLE_LOCK = """# header
plain==1.0 \\
    --hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \\
    --hash=sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    # via other
Web_Only==2.0 ; sys_platform == 'emscripten' \\
    --hash=sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
no-hashes==3.0
"""


def test_every_pin_is_read_with_its_hashes_marker_and_lines() -> None:
    plain, web, bare = lockfile.locked_packages(SAMPLE_LOCK)
    assert (plain.name, plain.version, plain.marker) == ("plain", "1.0", None)
    assert plain.hashes == ("a" * 64, "b" * 64)
    assert (plain.first_line, plain.last_line) == (2, 4)
    assert (web.name, web.marker) == ("web-only", "sys_platform == 'emscripten'")  # normalised
    assert (bare.version, bare.hashes, bare.first_line, bare.last_line) == ("3.0", (), 8, 8)


def test_markers_decide_what_a_platform_installs() -> None:
    linux = {"sys_platform": "linux"}
    assert [p.name for p in lockfile.locked_packages(SAMPLE_LOCK) if p.applies(linux)] == [
        "plain",
        "no-hashes",
    ]


def test_the_image_lock_pins_every_package_once() -> None:
    packages = lockfile.locked_packages((ROOT / lockfile.LOCK).read_text())
    assert len({p.name for p in packages}) == len(packages)
    assert all(p.hashes for p in packages)
