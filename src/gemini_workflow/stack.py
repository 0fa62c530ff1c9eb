"""Decide what `invoke up` starts: environment file, API key, upstream, images, port.

Plain functions of plain values (the environment, files in the repository), so every
decision is unit-tested without an engine; stack_up.py carries a plan out.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dotenv import dotenv_values

from gemini_workflow.compose import ComposeProject
from gemini_workflow.errors import WorkflowError

ENV_DIR: Final = Path("compose/env")
PLACEHOLDER_KEY_FILE: Final = Path("compose/placeholder-api-key.txt")
STATE_DIR: Final = Path(".local/stack")
"""Git-ignored; holds the real key as a file for the compose secret while a stack runs."""

FAKE_UPSTREAM: Final = "http://fake-gemini:8001"


class StackError(WorkflowError):
    """The stack cannot be started or inspected; the message says what to do next."""


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class ApiKey:
    """Where the real Gemini key comes from; never printed, only its origin is."""

    origin: str
    value: str = field(repr=False)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE pairs of a dotenv file (comments, quotes, `export`), as python-dotenv reads
    it; a key without a value counts as empty."""
    return {key: value or "" for key, value in dotenv_values(path, encoding="utf-8").items()}


def find_api_key(environ: Mapping[str, str], dotenv: Path) -> ApiKey | None:
    """The real key, if one is configured: the environment first, then the repo's `.env`.

    GEMINI_API_KEY_FILE wins over GEMINI_API_KEY (it keeps the key off the command line and
    out of the environment); blank values count as unset, like an untouched .env.example.
    """
    sources: list[tuple[str, Mapping[str, str]]] = [("the environment", environ)]
    if dotenv.is_file():
        sources.append((str(dotenv.name), read_env_file(dotenv)))
    for origin, values in sources:
        key_file = values.get("GEMINI_API_KEY_FILE", "").strip()
        if key_file:
            return ApiKey(f"GEMINI_API_KEY_FILE ({origin})", _read_key_file(Path(key_file)))
        key = values.get("GEMINI_API_KEY", "").strip()
        if key:
            return ApiKey(f"GEMINI_API_KEY ({origin})", key)
    return None


def _read_key_file(path: Path) -> str:
    try:
        key = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as error:
        raise StackError(
            f"GEMINI_API_KEY_FILE {path} cannot be read ({error.strerror}); fix the path, "
            "or unset it to use the fake Gemini"
        ) from None
    if not key:
        raise StackError(f"GEMINI_API_KEY_FILE {path} is empty; put the key in it, or unset it")
    return key


def resolve_env_file(root: Path, name: str) -> Path:
    """An environment name (`dev` -> compose/env/dev.env) or a path to an env file."""
    candidate = root / ENV_DIR / f"{name}.env"
    if candidate.is_file():
        return candidate
    as_path = Path(name).expanduser()
    if as_path.suffix == ".env" and as_path.is_file():
        return as_path.resolve()
    known = ", ".join(sorted(p.stem for p in (root / ENV_DIR).glob("*.env"))) or "none"
    raise StackError(f"unknown environment {name!r}; choose one of: {known} (or an .env path)")


@dataclass(frozen=True)
class Images:
    app: str
    fake: str
    proxy: str


@dataclass(frozen=True)
class StackPlan:
    """Everything `up` will do, decided before the engine is touched."""

    project: str
    root: Path
    env_name: str
    env_file: Path
    upstream: str
    key: ApiKey | None
    port: int
    bind: str
    images: Images
    pinned: bool = False
    """The env file fixed the upstream (test.env: the fake), whatever key is configured."""
    overlays: tuple[Path, ...] = ()
    """Extra compose files (tests and the bench publish every hop: compose.PUBLISH_ALL)."""
    client_keys: Path | None = None
    """With `--auth`: the client key file, so /generate needs `Authorization: Bearer <key>`."""
    overlay_env: Mapping[str, str] = field(default_factory=dict)
    """Variables only an overlay reads (compose.dev.yaml: the dev image and its build inputs)."""

    @property
    def uses_real_key(self) -> bool:
        return self.key is not None and not self.pinned

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR / self.project

    def secret_file(self) -> Path:
        """The file the compose secret mounts: our copy of the key, or the placeholder."""
        if not self.uses_real_key:
            return self.root / PLACEHOLDER_KEY_FILE
        return self.state_dir / "gemini_api_key"

    def client_keys_copy(self) -> Path:
        return self.state_dir / "client_keys"

    def compose_env(self) -> dict[str, str]:
        """Variables compose.yaml interpolates; no secret among them, only a file path."""
        auth = {}
        if self.client_keys is not None:
            auth = {
                "GEMINI_CLIENT_KEYS_SECRET_FILE": str(self.client_keys_copy()),
                "GEMINI_CLIENT_KEYS_IN_APP": "/run/secrets/client_keys",
            }
        return {
            **auth,
            "GEMINI_STACK_ENV_FILE": str(self.env_file),
            "GEMINI_UPSTREAM": self.upstream,
            "GEMINI_API_KEY_SECRET_FILE": str(self.secret_file()),
            "GEMINI_PROXY_PORT": str(self.port),
            "GEMINI_PROXY_BIND": self.bind,
            "GEMINI_APP_IMAGE": self.images.app,
            "GEMINI_FAKE_IMAGE": self.images.fake,
            "GEMINI_PROXY_IMAGE": self.images.proxy,
            **self.overlay_env,
        }

    def compose(self) -> ComposeProject:
        """The compose project this plan starts (and `down` removes)."""
        return ComposeProject(self.project, self.compose_env(), self.overlays, root=self.root)

    def summary(self) -> str:
        """One line saying which upstream answers and why."""
        if self.key is not None and self.uses_real_key:
            return (
                f"Upstream {self.upstream} through api-proxy, with the key from {self.key.origin}."
            )
        if self.key is None and not self.pinned:
            return (
                "No GEMINI_API_KEY (environment or .env): using fake-gemini with a placeholder "
                "key; see .env.example for the real API."
            )
        return (
            f"Environment {self.env_name!r} pins the upstream to {self.upstream}, "
            "with a placeholder key."
        )


def plan_stack(
    *,
    root: Path,
    project: str,
    env: str,
    port: int,
    bind: str,
    images: Images,
    real_upstream: str,
    environ: Mapping[str, str],
    client_keys: Path | None = None,
) -> StackPlan:
    """Pick the env file, the key and the upstream.

    The upstream rule: an env file that sets GEMINI_UPSTREAM pins it (test.env pins the
    fake, so integration tests never spend quota); otherwise a configured key selects the
    real API and no key selects the fake.
    """
    env_file = resolve_env_file(root, env)
    key = find_api_key(environ, root / ".env")
    pinned = read_env_file(env_file).get("GEMINI_UPSTREAM", "").strip()
    upstream = pinned or (real_upstream if key else FAKE_UPSTREAM)
    return StackPlan(
        project=project,
        root=root,
        env_name=env_file.stem,
        env_file=env_file,
        upstream=upstream.rstrip("/"),
        pinned=bool(pinned),
        key=key,
        port=port,
        bind=bind,
        images=images,
        client_keys=client_keys,
    )


def plan_from_config(
    config: Any,
    *,
    root: Path,
    environ: Mapping[str, str],
    env: str = "",
    port: int = 0,
    auth: bool = False,
) -> StackPlan:
    """The plan `invoke up` follows: invoke config (`stack.*`, `images.nginx`), the options
    given, the environment and .env. Images default to this commit's tags (sha-<7>)."""
    from gemini_workflow import images

    tag = images.image_tags(images.read_source_info(root))[1]
    name = str(config["image"]["name"])
    cfg = config["stack"]
    return plan_stack(
        root=root,
        project=str(cfg["project"]),
        env=env or str(cfg["env"]),
        port=port or int(cfg["port"]),
        bind=str(cfg["bind"]),
        images=Images(
            app=str(cfg["app_image"]) or f"{name}:{tag}",
            fake=str(cfg["fake_image"]) or f"{images.fake_image_name(name)}:{tag}",
            proxy=str(config["images"]["nginx"]),
        ),
        real_upstream=str(cfg["upstream"]),
        environ=environ,
        client_keys=root / str(config["deploy"]["client_keys"]) if auth else None,
    )


def write_secret(plan: StackPlan) -> Path:
    """Write the key (and the client keys, with --auth) to the files the compose secrets mount.

    Always copies, even of a GEMINI_API_KEY_FILE: compose bind-mounts a file as it is, and
    the container's unprivileged user (uid 10001) could not read a typical 0600 key file.
    The directory is private (0700); the container sees only the files, never the directory.
    """
    copies = {}
    if plan.key is not None and plan.uses_real_key:
        copies[plan.secret_file()] = plan.key.value + "\n"
    if plan.client_keys is not None:
        copies[plan.client_keys_copy()] = plan.client_keys.read_text(encoding="utf-8")
    if copies:
        plan.state_dir.mkdir(parents=True, exist_ok=True)
        plan.state_dir.chmod(0o700)
    for target, text in copies.items():
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
    return plan.secret_file()


def forget_secret(root: Path, project: str) -> None:
    """Remove the key file `up` wrote, once the stack that needed it is gone."""
    shutil.rmtree(root / STATE_DIR / project, ignore_errors=True)
