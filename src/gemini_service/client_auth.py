"""Client keys: who may call /generate, read from GEMINI_CLIENT_KEYS_FILE (one key per line).

Keys are compared as SHA-256 digests, every key every time, with hmac.compare_digest: the time
an answer takes says nothing about which key, or how much of one, matched. The file is read
again when it changes (checked at most once a second), so a key added or revoked in a
mounted secret takes effect without a restart; a file that turns unreadable or empty keeps
the last good keys and says so in the log, rather than locking every caller out or letting
everyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

RECHECK_SECONDS: Final = 1.0


class ClientKeyError(ValueError):
    """The key file cannot be used at startup; the message names it and what is wrong."""


def keys_in(text: str) -> list[str]:
    """The keys of a key file's text: non-empty lines, `#` comments (indented too) skipped.

    The one reading of the format: the workflow sends the first key with it, so a line the
    service skips can never be the key a deploy greets with.
    """
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def read_keys(path: Path) -> list[str]:
    """The keys of the file, or an error naming the file and what is wrong with it."""
    try:
        keys = keys_in(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientKeyError(
            f"GEMINI_CLIENT_KEYS_FILE {path} cannot be read: {exc.strerror}"
        ) from None
    if not keys:
        raise ClientKeyError(f"GEMINI_CLIENT_KEYS_FILE {path} holds no key: one per line")
    return keys


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ClientKeys:
    """The accepted keys, kept as digests and refreshed when their file changes."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._digests = [_digest(key) for key in read_keys(path)]
        self._stamp = self._file_stamp()
        self._checked = clock()

    def allows(self, key: str | None) -> bool:
        """True when `key` (the token of `Authorization: Bearer <key>`) is one of the file's."""
        self._refresh()
        if not key:
            return False
        offered = _digest(key)
        found = False
        for digest in self._digests:  # no early exit: every key costs the same
            found |= hmac.compare_digest(offered, digest)
        return found

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < RECHECK_SECONDS:
            return
        self._checked = now
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        try:
            self._digests = [_digest(key) for key in read_keys(self.path)]
        except ClientKeyError as exc:
            log.error("client keys not reloaded, the previous ones stay in force: %s", exc)
            return
        self._stamp = stamp
        log.info("client keys reloaded from %s: %d key(s)", self.path, len(self._digests))

    def _file_stamp(self) -> tuple[int, int, int] | None:
        """What changes when the file is edited or replaced (mounted secrets are replaced)."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)
