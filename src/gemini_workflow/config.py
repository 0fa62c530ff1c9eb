"""The workflow's settings: defaults here, then invoke.yaml, then INVOKE_* variables.

tasks.py hands DEFAULTS to invoke (`ns.configure`), so every task sees the same layers invoke
always reads. Code that runs outside invoke (the bench, the test suites) calls `load()` and
gets exactly what a task would see, without importing tasks.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from invoke.config import Config

ROOT = Path(__file__).resolve().parents[2]

DEFAULTS: dict[str, Any] = {
    # --- images: `invoke build`, `invoke lock`, `invoke bootstrap` ---
    "image": {
        "name": "gemini-service",  # the fake is "<name>-fake"
        "python_version": "3.11",  # major.minor of images.python
        # `invoke build` fails above these (measured: docs/images.md, "Image anatomy").
        "budgets": {"max_size_mb": 300, "max_added_mb": 120, "max_layers": 10},
    },
    # Base images pinned by digest (Renovate bumps them). On hosts without Docker Hub,
    # `invoke bootstrap` writes local stand-ins here (invoke.yaml) and sets `offline`.
    "images": {
        "python": "python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b",  # noqa: E501
        "nginx": "nginx:1.27-bookworm@sha256:bc5eac5eafc581aeda3008b4b1f07ebba230de2f27d47767129a6a905c84f470",  # noqa: E501
    },
    # True: builds use the stand-ins and the host wheelhouse, with no network inside.
    "offline": False,
    # --- stack: `invoke up`, `down`, `logs`, `ps` ---
    "stack": {
        "project": "gemini-service",  # compose project name: containers, network prefix
        "env": "dev",  # compose/env/<env>.env, or a path to an env file
        "port": 8080,  # host port of api-proxy, the only published port
        "bind": "127.0.0.1",  # host address it is published on; 0.0.0.0 exposes it
        "timeout": 120,  # seconds `up` waits for every service to be healthy
        "log_lines": 40,  # log lines shown per failed service
        "upstream": "https://generativelanguage.googleapis.com",  # used when a key is set
        # Empty: <image.name>[-fake]:sha-<commit>, the tag `invoke build` gives this commit.
        "app_image": "",
        "fake_image": "",
    },
    # --- release: `invoke push`, `invoke verify`, `invoke registry.up/down` ---
    "release": {
        # Where `push` sends <image.name>: HOST[/NAMESPACE], e.g. 127.0.0.1:5000/llm-apps.
        # Empty: Artifact Registry, <location>-docker.pkg.dev/<project>/<repository>.
        "registry": "",
        "location": "us",
        "project": "",
        "repository": "llm-apps",
        "record": "build/release.json",  # what was pushed; a deploy pins its `ref`
        "verify_timeout": 90,  # seconds for the pulled image to become healthy
    },
    # --- deploy: `invoke deploy`, `deploy.*` (Docker Swarm; Kubernetes and Cloud Run rendered) ---
    "deploy": {
        "stack": "gemini-service",  # swarm stack name: services, secrets, configs, network
        "env": "prod",  # compose/env/<env>.env, or a path to an env file
        "port": 8080,  # published (host mode) by api-proxy on every node running it
        "replicas": 2,  # gemini-app tasks
        "timeout": 180,  # seconds to wait for a deploy or an update to converge
        # One client key per line (git-ignored, 0600); created with one random key if absent.
        "client_keys": ".local/client-keys",
        "client_rate": "5r/s",  # per client key, at api-proxy (nginx limit_req)
        "client_burst": 10,
        "fake_image": "",  # empty: <image.name>-fake:<version>, as `invoke build` tags it
        "render_dir": "build/deploy",  # where deploy.render writes manifests
    },
    "registry": {  # a local registry to try the release flow without a cloud account
        "host": "127.0.0.1",
        "port": 5000,
        "dir": ".local/registry",  # config, storage, pid and log (git-ignored)
    },
}


def load(root: Path = ROOT) -> Config:
    """The config a task run from `root` sees: DEFAULTS, invoke.yaml, then INVOKE_* variables."""
    config = Config(project_location=root)
    config.load_collection(DEFAULTS)
    config.load_project()
    config.load_shell_env()
    return config
