"""Decide a swarm deploy before touching the engine: which release, which secrets, which files.

Like the compose stack's plan (stack.py), everything here is a plain function of config, the
release record, the environment and files in the repository, so it is unit-tested without an
engine. Secrets and configs are named after a digest of their content: swarm keeps both
immutable, so a changed key or nginx.conf deploys as a new version instead of failing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from gemini_workflow.deploy.history import STATE_DIR, History, history_path
from gemini_workflow.images import release_fake_image
from gemini_workflow.release import ImageReference, ReleaseError, ReleaseRecord
from gemini_workflow.stack import (
    FAKE_UPSTREAM,
    PLACEHOLDER_KEY_FILE,
    ApiKey,
    find_api_key,
    resolve_env_file,
)

STACK_FILE: Final = Path("deploy/swarm/stack.yaml")
NGINX_FILES: Final = {
    "GEMINI_NGINX_CONF_CONFIG": Path("compose/nginx/nginx.conf"),
    "GEMINI_NGINX_START_CONFIG": Path("compose/nginx/start.sh"),
}


@dataclass(frozen=True)
class DeployPlan:
    """Everything `invoke deploy` will do, decided before the engine is touched."""

    stack: str
    root: Path
    app: ImageReference
    fake_image: str
    proxy_image: str
    upstream: str
    key: ApiKey | None
    client_keys: Path
    env_file: Path
    port: int
    replicas: int
    rate: str
    burst: int
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR / self.stack

    @property
    def uses_fake(self) -> bool:
        return self.upstream == FAKE_UPSTREAM

    def key_file(self) -> Path:
        """The file swarm makes the Gemini key secret from: a private copy, or the placeholder."""
        if self.key is None or self.uses_fake:
            return self.root / PLACEHOLDER_KEY_FILE
        return self.state_dir / "gemini_api_key"

    def stack_env(self) -> dict[str, str]:
        """The variables deploy/swarm/stack.yaml reads; file paths and names, never a key."""
        key_file, client_keys = self.key_file(), self.client_keys
        return {
            "GEMINI_STACK_ENV_FILE": str(self.env_file),
            "GEMINI_APP_IMAGE": str(self.app),
            "GEMINI_FAKE_IMAGE": self.fake_image,
            "GEMINI_PROXY_IMAGE": self.proxy_image,
            "GEMINI_UPSTREAM": self.upstream,
            "GEMINI_STACK_PORT": str(self.port),
            "GEMINI_APP_REPLICAS": str(self.replicas),
            "GEMINI_FAKE_REPLICAS": "1" if self.uses_fake else "0",
            "GEMINI_CLIENT_RATE": self.rate,
            "GEMINI_CLIENT_BURST": str(self.burst),
            "GEMINI_API_KEY_FILE": str(key_file),
            "GEMINI_API_KEY_SECRET": versioned(self.stack, "gemini-api-key", key_file),
            "GEMINI_CLIENT_KEYS_FILE": str(client_keys),
            "GEMINI_CLIENT_KEYS_SECRET": versioned(self.stack, "client-keys", client_keys),
            **{
                variable: versioned(self.stack, path.name, self.root / path)
                for variable, path in NGINX_FILES.items()
            },
            **self.extra,
        }


def object_names(env: Mapping[str, str]) -> set[str]:
    """The secrets and configs a deploy's env names (older versions are removed after it).

    Read from the env the deploy used, never rebuilt: by then the key copy it hashed is gone.
    """
    names = ["GEMINI_API_KEY_SECRET", "GEMINI_CLIENT_KEYS_SECRET", *NGINX_FILES]
    return {env[name] for name in names}


def versioned(stack: str, what: str, path: Path) -> str:
    """`<stack>_<what>-<12 hex>`: a new name whenever the content changes.

    The suffix is a digest of the content; the keys it may cover are random and long, so a
    short digest of them reveals nothing useful.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{stack}_{what.replace('.', '-')}-{digest}"


def pinned_release(ref: str, record_path: Path) -> ImageReference:
    """The release to deploy: REF if given, else the last push's record; always by digest."""
    text = ref or ReleaseRecord.read(record_path).ref
    reference = ImageReference.parse(text)
    if not reference.digest:
        raise ReleaseError(
            f"{text} names a tag, not a digest: deploy by digest (a tag can move between nodes"
            " and rollbacks); use the `ref` of build/release.json or HOST/PATH@sha256:..."
        )
    return ImageReference(reference.repository, None, reference.digest)


def write_key_copy(plan: DeployPlan) -> None:
    """The Gemini key, copied where swarm reads it at deploy time (a private 0600 file)."""
    if plan.key is None or plan.uses_fake:
        return
    plan.state_dir.mkdir(parents=True, exist_ok=True)
    plan.state_dir.chmod(0o700)
    target = plan.key_file()
    target.write_text(plan.key.value + "\n", encoding="utf-8")
    target.chmod(0o600)


def plan_from_config(
    config: Any,
    *,
    root: Path,
    environ: Mapping[str, str],
    ref: str = "",
    env: str = "",
    port: int = 0,
    replicas: int = 0,
) -> DeployPlan:
    """The plan `invoke deploy` follows: options, else the last deploy's, else deploy.* config.

    So `invoke deploy --ref NEW` changes the release and nothing else of a running stack.
    """
    cfg = config["deploy"]
    last = History.load(history_path(root, str(cfg["stack"]))).options
    env_file = resolve_env_file(root, env or str(last.get("env") or cfg["env"]))
    key = find_api_key(environ, root / ".env")
    name = str(config["image"]["name"])
    return DeployPlan(
        stack=str(cfg["stack"]),
        root=root,
        app=pinned_release(ref, root / str(config["release"]["record"])),
        fake_image=str(cfg["fake_image"]) or release_fake_image(root, name),
        proxy_image=str(config["images"]["nginx"]),
        upstream=str(config["stack"]["upstream"]).rstrip("/") if key else FAKE_UPSTREAM,
        key=key,
        client_keys=root / str(cfg["client_keys"]),
        env_file=env_file,
        port=port or int(last.get("port") or cfg["port"]),
        replicas=replicas or int(last.get("replicas") or cfg["replicas"]),
        rate=str(cfg["client_rate"]),
        burst=int(cfg["client_burst"]),
    )
