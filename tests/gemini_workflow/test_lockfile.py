"""The lock knows which pyproject inputs it was compiled from."""

from __future__ import annotations

from pathlib import Path

from gemini_workflow import lockfile

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.11"\ndependencies = {}\n'


def pyproject(path: Path, *deps: str) -> Path:
    file = path / "pyproject.toml"
    file.write_text(PYPROJECT.format("[" + ", ".join(f'"{d}"' for d in deps) + "]"))
    return file


def test_the_committed_lock_matches_pyproject() -> None:
    assert lockfile.is_current(ROOT / lockfile.LOCK, ROOT / "pyproject.toml")


def test_digest_ignores_order_but_not_content(tmp_path: Path) -> None:
    a = lockfile.inputs_digest(pyproject(tmp_path, "fastapi>=1", "uvicorn"))
    b = lockfile.inputs_digest(pyproject(tmp_path, "uvicorn", "fastapi>=1"))
    c = lockfile.inputs_digest(pyproject(tmp_path, "uvicorn", "fastapi>=2"))
    assert a == b
    assert a != c


def test_stamp_replaces_an_older_stamp_and_keeps_the_pins(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\nfastapi==1.0 \\\n    --hash=sha256:00\n")
    lockfile.stamp(lock, "old")
    lockfile.stamp(lock, "new")
    assert (
        lock.read_text()
        == "# inputs-sha256: new\n# header\nfastapi==1.0 \\\n    --hash=sha256:00\n"
    )
    assert lockfile.recorded_digest(lock) == "new"


def test_a_missing_or_unstamped_lock_is_not_current(tmp_path: Path) -> None:
    project = pyproject(tmp_path, "fastapi")
    assert not lockfile.is_current(tmp_path / "absent.lock", project)
    (tmp_path / "plain.lock").write_text("fastapi==1.0\n")
    assert not lockfile.is_current(tmp_path / "plain.lock", project)


def test_compile_command_hashes_runtime_deps_for_the_image_platform() -> None:
    command = lockfile.compile_command(Path("pyproject.toml"), Path("out.lock"), "3.11")
    assert command[1:5] == ["-m", "uv", "pip", "compile"]
    assert "--generate-hashes" in command
    assert command[command.index("--python-platform") + 1] == "x86_64-manylinux_2_28"
    assert "--upgrade" not in command
    assert "--upgrade" in lockfile.compile_command(Path("p"), Path("o"), "3.11", upgrade=True)
