"""Client keys: who may call /generate, one key per line in a git-ignored 0600 file.

The deployed stacks (and `invoke up --auth`) hand the file to the app as a secret; callers send
`Authorization: Bearer <key>`, and api-proxy rate-limits per key. Adding or revoking a key is
editing this file and deploying (or starting) again: a new secret version, no image rebuild.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Final

from gemini_service.client_auth import keys_in
from gemini_workflow.errors import WorkflowError

DEFAULT: Final = Path(".local/client-keys")


def ensure(path: Path) -> bool:
    """Create the file with one random key unless it exists; True if it was created.

    Mode 0600 in its directory, like an SSH key: the keys are credentials.
    """
    if path.exists():
        if not read(path):
            raise WorkflowError(f"{path} holds no client key: add one line, or delete the file")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return True


def read(path: Path) -> list[str]:
    """The keys, read exactly as the service reads them."""
    return keys_in(path.read_text(encoding="utf-8"))


def header(path: Path) -> dict[str, str]:
    """The header a caller sends, with the first key (for the first answer after a start)."""
    return {"Authorization": f"Bearer {read(path)[0]}"}


def created(path: Path, root: Path) -> str:
    """What to say once `ensure` made the file: where, so the user can find and share it."""
    return f"created {shown(path, root)} with one client key (0600)"


def headers(path: Path, root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The header to send (the first key), and the one to print: it reads the key from the
    file in the shell, so no key ever reaches a terminal or a log."""
    return header(path), {"Authorization": f"Bearer $(head -1 {shown(path, root)})"}


def shown(path: Path, root: Path) -> Path:
    """The key file as a user types it: relative to the checkout when it is inside it."""
    return path.relative_to(root) if path.is_relative_to(root) else path
