"""Release rules: tags per version, registry references, which tags may move, the record."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gemini_workflow.release import (
    Action,
    ImageReference,
    ReleaseError,
    ReleaseRecord,
    RemoteTag,
    Repository,
    SourceState,
    Tag,
    TagKind,
    configured_registry,
    parse_version,
    plan_tags,
    project_version,
    refusal_message,
    release_tags,
    source_state,
    target_repository,
)

CLEAN = SourceState("abc1234def5678abc1234def5678abc1234def56")


def names(version: str, source: SourceState = CLEAN) -> list[str]:
    return [tag.name for tag in release_tags(parse_version(version), source)]


# --- versions and tags ---------------------------------------------------------------------


def test_release_gets_version_minor_major_sha_and_latest() -> None:
    assert names("1.2.0") == ["1.2.0", "1.2", "1", "sha-abc1234", "latest"]


def test_prerelease_gets_only_its_own_tag_and_sha() -> None:
    assert names("1.3.0-rc.1") == ["1.3.0-rc.1", "sha-abc1234"]


def test_zero_major_release_gets_no_bare_major_tag() -> None:
    assert names("0.4.2") == ["0.4.2", "0.4", "sha-abc1234", "latest"]


def test_only_the_exact_version_tag_is_immutable() -> None:
    tags = release_tags(parse_version("2.0.1"), CLEAN)
    assert [t.name for t in tags if t.kind.immutable] == ["2.0.1"]
    assert {t.kind for t in tags if t.name in {"2.0", "2", "latest"}} == {TagKind.ALIAS}
    assert tags[3] == Tag("sha-abc1234", TagKind.REVISION)


def test_dirty_tree_is_refused_naming_the_files() -> None:
    dirty = SourceState(CLEAN.revision, ("src/app.py", "notes.txt"))
    with pytest.raises(ReleaseError, match=r"uncommitted changes \(src/app.py, notes.txt\)"):
        release_tags(parse_version("1.2.0"), dirty)


def test_dirty_tree_message_stays_short_with_many_files() -> None:
    dirty = SourceState(CLEAN.revision, tuple(f"f{i}" for i in range(8)))
    with pytest.raises(ReleaseError, match=r"f4 and 3 more"):
        release_tags(parse_version("1.2.0"), dirty)


def test_revision_must_be_a_commit_id() -> None:
    with pytest.raises(ReleaseError, match="not a git commit id"):
        release_tags(parse_version("1.2.0"), SourceState("HEAD"))


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("1.2", "MAJOR.MINOR.PATCH"),
        ("v1.2.0", "MAJOR.MINOR.PATCH"),
        ("01.2.0", "MAJOR.MINOR.PATCH"),
        ("1.3.0rc1", "write it as 1.3.0-rc.1"),
        ("2.0.0b2", "write it as 2.0.0-beta.2"),
        ("1.2.0+build.5", "cannot contain '+'"),
    ],
)
def test_non_semantic_version_is_refused_with_a_fix(text: str, hint: str) -> None:
    with pytest.raises(ReleaseError, match="not a semantic version") as raised:
        parse_version(text)
    assert hint in str(raised.value)


def test_version_round_trips_to_text() -> None:
    assert str(parse_version("1.3.0-rc.1")) == "1.3.0-rc.1"
    assert parse_version("1.3.0-rc.1").prerelease == "rc.1"
    assert not parse_version("10.20.30").prerelease


def test_project_version_is_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "3.1.4"\n')
    assert project_version(tmp_path) == parse_version("3.1.4")


# --- where the image goes -------------------------------------------------------------------


def test_registry_option_with_namespace_names_the_repository() -> None:
    repo = target_repository("127.0.0.1:5000/llm-apps", "gemini-service")
    assert repo == Repository("127.0.0.1:5000", "llm-apps/gemini-service")
    assert repo.at_tag("1.2.0") == "127.0.0.1:5000/llm-apps/gemini-service:1.2.0"
    assert not repo.is_artifact_registry


def test_registry_option_without_namespace_puts_the_image_at_the_root() -> None:
    assert str(target_repository("localhost:5000/", "gemini-service")) == (
        "localhost:5000/gemini-service"
    )


def test_artifact_registry_is_the_default_form() -> None:
    config = {"registry": "", "location": "europe", "project": "acme", "repository": "llm-apps"}
    repo = target_repository(configured_registry("", config), "gemini-service")
    assert str(repo) == "europe-docker.pkg.dev/acme/llm-apps/gemini-service"
    assert repo.is_artifact_registry


def test_registry_option_beats_config() -> None:
    config = {"registry": "registry.example.com/team", "project": "acme"}
    assert configured_registry("127.0.0.1:5000", config) == "127.0.0.1:5000"
    assert configured_registry("", config) == "registry.example.com/team"


def test_missing_project_says_how_to_configure_or_override() -> None:
    with pytest.raises(ReleaseError, match=r"INVOKE_RELEASE_PROJECT.*--registry"):
        configured_registry("", {"registry": "", "project": ""})


@pytest.mark.parametrize("registry", ["llm-apps", "", "http://127.0.0.1:5000"])
def test_registry_without_a_host_is_refused(registry: str) -> None:
    with pytest.raises(ReleaseError, match="HOST"):
        target_repository(registry, "gemini-service")


def test_uppercase_namespace_is_refused() -> None:
    with pytest.raises(ReleaseError, match="lowercase"):
        target_repository("127.0.0.1:5000/LLM", "gemini-service")


A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/ns/app:1.2.0", ("127.0.0.1:5000", "ns/app", "1.2.0", None)),
        ("localhost/gemini-service", ("localhost", "gemini-service", "latest", None)),
        (f"us-docker.pkg.dev/p/r/app@{A}", ("us-docker.pkg.dev", "p/r/app", None, A)),
        (f"registry:5000/app:1@{B}", ("registry:5000", "app", "1", B)),
    ],
)
def test_image_reference_parses_host_path_tag_and_digest(
    text: str, expected: tuple[str, str, str | None, str | None]
) -> None:
    ref = ImageReference.parse(text)
    assert (ref.repository.host, ref.repository.path, ref.tag, ref.digest) == expected


def test_image_reference_prints_back_as_given() -> None:
    text = f"127.0.0.1:5000/a/b:1.0.0@sha256:{'c' * 64}"
    assert str(ImageReference.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("gemini-service:1.2.0", "not a registry image reference"),
        ("127.0.0.1:5000/app@sha256:short", "not a sha256 digest"),
        ("127.0.0.1:5000/app:-bad", "not a valid tag"),
    ],
)
def test_malformed_image_reference_is_refused(text: str, error: str) -> None:
    with pytest.raises(ReleaseError, match=error):
        ImageReference.parse(text)


# --- immutability ---------------------------------------------------------------------------

TAGS = release_tags(parse_version("1.2.0"), CLEAN)
OURS, THEIRS = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def actions(remote: dict[str, RemoteTag | None], *, force: bool = False) -> dict[str, Action]:
    return {p.tag.name: p.action for p in plan_tags(TAGS, OURS, remote, force=force)}


def test_first_push_creates_every_tag() -> None:
    assert set(actions({}).values()) == {Action.CREATE}


def test_same_content_again_changes_nothing() -> None:
    same = RemoteTag("sha256:" + "9" * 64, OURS)
    remote: dict[str, RemoteTag | None] = {tag.name: same for tag in TAGS}
    assert set(actions(remote).values()) == {Action.UNCHANGED}


def test_aliases_and_sha_tag_move_to_new_content() -> None:
    other = RemoteTag("sha256:" + "8" * 64, THEIRS)
    result = actions({"1.2": other, "1": other, "sha-abc1234": other, "latest": other})
    assert result == {
        "1.2.0": Action.CREATE,
        "1.2": Action.MOVE,
        "1": Action.MOVE,
        "sha-abc1234": Action.MOVE,
        "latest": Action.MOVE,
    }


def test_version_tag_with_other_content_is_refused_unless_forced() -> None:
    other = RemoteTag("sha256:" + "8" * 64, THEIRS)
    assert actions({"1.2.0": other})["1.2.0"] is Action.REFUSE
    assert actions({"1.2.0": other}, force=True)["1.2.0"] is Action.OVERWRITE
    assert Action.OVERWRITE.pushes
    assert not Action.REFUSE.pushes


def test_aliases_never_move_back_to_an_older_release() -> None:
    newer = RemoteTag("sha256:" + "8" * 64, THEIRS, version="1.3.0")
    hotfix = parse_version("1.2.1")
    plans = plan_tags(TAGS, OURS, {"1": newer, "latest": newer}, force=False, version=hotfix)
    result = {p.tag.name: p.action for p in plans}
    assert result["1"] is Action.NEWER
    assert result["latest"] is Action.NEWER
    assert result["1.2"] is Action.CREATE
    assert not Action.NEWER.pushes


@pytest.mark.parametrize("label", [None, "0.9.0", "1.2.0-rc.1", "not-a-version"])
def test_aliases_move_forward_or_when_the_version_is_unknown(label: str | None) -> None:
    older = RemoteTag("sha256:" + "8" * 64, THEIRS, version=label)
    plans = plan_tags(TAGS, OURS, {"latest": older}, force=False, version=parse_version("1.2.0"))
    assert plans[-1].action is Action.MOVE


def test_version_precedence_follows_semver() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-rc.2",
        "1.0.0-rc.10",
        "1.0.0",
        "1.0.1",
        "1.10.0",
    ]
    keys = [parse_version(text) for text in ordered]
    assert sorted(reversed(keys)) == keys
    assert len(set(keys)) == len(keys)


def test_refusal_message_names_the_tag_its_digest_and_the_way_out() -> None:
    other = RemoteTag("sha256:" + "8" * 64, THEIRS)
    repo = Repository("127.0.0.1:5000", "llm-apps/gemini-service")
    message = refusal_message(repo, plan_tags(TAGS, OURS, {"1.2.0": other}, force=False))
    assert message is not None
    assert "127.0.0.1:5000/llm-apps/gemini-service:1.2.0 already points to sha256:888" in message
    assert "Bump the version" in message
    assert "--force" in message
    assert refusal_message(repo, plan_tags(TAGS, OURS, {}, force=False)) is None


# --- the record and the source state --------------------------------------------------------


def test_release_record_round_trips_and_carries_a_pinnable_ref(tmp_path: Path) -> None:
    record = ReleaseRecord(
        image="127.0.0.1:5000/llm-apps/gemini-service",
        digest="sha256:" + "f" * 64,
        tags=["1.2.0", "latest"],
        version="1.2.0",
        revision=CLEAN.revision,
        pushed_at="2026-11-22T10:00:00+00:00",
    )
    path = tmp_path / "build" / "release.json"
    record.write(path)
    assert json.loads(path.read_text())["ref"] == (
        "127.0.0.1:5000/llm-apps/gemini-service@sha256:" + "f" * 64
    )
    assert ReleaseRecord.read(path) == record


def test_the_record_carries_the_sbom_digest_and_old_records_still_read(tmp_path: Path) -> None:
    fields = {
        "image": "127.0.0.1:5000/llm-apps/gemini-service",
        "digest": "sha256:" + "f" * 64,
        "tags": ["1.2.0"],
        "version": "1.2.0",
        "revision": CLEAN.revision,
        "pushed_at": "2026-11-22T10:00:00+00:00",
    }
    path = tmp_path / "release.json"
    ReleaseRecord(**fields, sbom="sha256:" + "5" * 64).write(path)
    assert json.loads(path.read_text())["sbom"] == "sha256:" + "5" * 64
    assert ReleaseRecord.read(path).sbom == "sha256:" + "5" * 64
    path.write_text(json.dumps({**fields, "ref": "x"}))  # written before SBOMs were attached
    assert ReleaseRecord.read(path) == ReleaseRecord(**fields)
    assert ReleaseRecord.read(path).sbom is None


def test_missing_record_tells_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="run `invoke push` first"):
        ReleaseRecord.read(tmp_path / "release.json")


def test_corrupt_record_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "release.json"
    path.write_text('{"image": "x"}')
    with pytest.raises(ReleaseError, match="not a release record"):
        ReleaseRecord.read(path)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_source_state_reports_head_and_uncommitted_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "a")
    clean = source_state(tmp_path)
    assert len(clean.revision) == 40
    assert clean.dirty_paths == ()
    (tmp_path / "a.txt").write_text("changed")
    (tmp_path / "new.txt").write_text("new")
    assert source_state(tmp_path).dirty_paths == ("a.txt", "new.txt")


def test_source_state_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="git rev-parse HEAD failed"):
        source_state(tmp_path)
