"""What this checkout deployed: the releases (newest last), the options, whether it made the swarm.

`deploy.rollback` goes back to the release before the current one; a later `invoke deploy
--ref` keeps the port, replicas and env of the deploy before it unless told otherwise; and
`deploy.down --leave` leaves only a swarm that `invoke deploy` created.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

STATE_DIR: Final = Path(".local/deploy")
"""Git-ignored: per stack, the Gemini key copy swarm reads at deploy time, and the history."""


def history_path(root: Path, stack: str) -> Path:
    return root / STATE_DIR / stack / "history.json"


@dataclass
class History:
    """What this checkout deployed, newest last, and whether it created the swarm."""

    path: Path
    releases: list[str] = field(default_factory=list)
    created_swarm: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    """The last deploy's port, replicas and env, so a rollback changes nothing but the release."""

    @classmethod
    def load(cls, path: Path) -> History:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(
            path,
            list(data.get("releases", [])),
            bool(data.get("created_swarm")),
            dict(data.get("options", {})),
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        self.path.write_text(json.dumps(data, indent=2) + "\n")

    def record(self, ref: str) -> None:
        if not self.releases or self.releases[-1] != ref:
            self.releases = [*self.releases, ref][-10:]

    @property
    def previous(self) -> str | None:
        return self.releases[-2] if len(self.releases) > 1 else None
