"""Whether a built image is fit to ship: budgets, user, health check, and no secrets.

Pure functions of `docker inspect` and `docker history` data, so every policy is unit-tested
without an engine; images.py runs them on each image it builds, before tagging it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gemini_workflow.errors import WorkflowError

if TYPE_CHECKING:
    from rich.table import Table

MB = 1_000_000


@dataclass(frozen=True)
class Budgets:
    """Limits kept in invoke config (`image.budgets`); exceeding one fails the build."""

    max_size_mb: float
    max_added_mb: float
    max_layers: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Budgets:
        return cls(
            max_size_mb=float(config["max_size_mb"]),
            max_added_mb=float(config["max_added_mb"]),
            max_layers=int(config["max_layers"]),
        )


# --- secret checks -----------------------------------------------------------------------

# Names that announce a secret. `_FILE` names point at a mounted secret and are fine.
SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSW(OR)?D|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)", re.IGNORECASE
)
# Shapes of real credentials, plus NAME=value pairs whose name announces a secret.
SECRET_VALUES = {
    "Google API key": re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "secret-named assignment": re.compile(
        r"\b[A-Za-z0-9_]*(?:SECRET|TOKEN|PASSW(?:OR)?D|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)"
        r"[A-Za-z0-9_]*=[\"']?[^\s\"'$]{4,}",
        re.IGNORECASE,
    ),
}
# A shorter GEMINI_API_KEY (a placeholder like "x") would match innocent text everywhere.
MIN_KNOWN_SECRET_LENGTH = 8


def secret_like_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not name.upper().endswith("_FILE")


def dockerfile_secret_names(text: str) -> list[str]:
    """ARG/ENV names in a Dockerfile that look like secrets (their values would persist)."""
    found: list[str] = []
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        match = re.match(r"\s*(ARG|ENV)\s+(.*)", line, re.IGNORECASE)
        if not match:
            continue
        keyword, rest = match.group(1).upper(), match.group(2)
        if keyword == "ENV" and "=" not in rest.split()[0]:
            names = [rest.split()[0]]  # legacy `ENV NAME value` form
        else:
            names = [item.split("=", 1)[0] for item in rest.split() if item and item[0] != "#"]
            names = [n for n in names if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
        found += [f"{keyword} {n}" for n in names if secret_like_name(n)]
    return found


def known_secret_values(env: Mapping[str, str]) -> list[str]:
    """Values that must never appear in an image: the caller's real key, if it has one."""
    value = env.get("GEMINI_API_KEY", "")
    return [value] if len(value) >= MIN_KNOWN_SECRET_LENGTH else []


def find_secrets(
    inspect: Mapping[str, Any], history: Sequence[Mapping[str, Any]], known: Sequence[str] = ()
) -> list[str]:
    """Where history, labels or env look like they hold a secret (the secret is not echoed)."""
    config = inspect.get("Config") or {}
    places: list[tuple[str, str]] = []
    places += [
        (f"history step `{short(h.get('CreatedBy', ''))}`", h.get("CreatedBy") or "")
        for h in history
    ]
    places += [(f"label {k}", f"{k}={v}") for k, v in (config.get("Labels") or {}).items()]
    places += [(f"env {e.split('=', 1)[0]}", e) for e in config.get("Env") or []]
    findings: list[str] = []
    for where, text in places:
        for what, pattern in SECRET_VALUES.items():
            if pattern.search(text):
                findings.append(f"{what} in {where}")
        findings += [f"the value of GEMINI_API_KEY in {where}" for v in known if v in text]
    return findings


def find_in_stream(chunks: Iterable[bytes], needles: Sequence[bytes]) -> set[bytes]:
    """Which needles occur in a byte stream (e.g. `docker save`), across chunk borders."""
    found: set[bytes] = set()
    if not needles:
        return found
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        found.update(n for n in needles if n in window)
        tail = window[-overlap:] if overlap else b""
    return found


def short(text: str, width: int = 60) -> str:
    """History lines are long shell commands; a table cell needs the gist."""
    if not text.strip():
        return "(base image)"  # imported or squashed base layers carry no command
    text = re.sub(r"\s+", " ", text.replace("/bin/sh -c #(nop) ", "")).strip()
    text = re.sub(r"^\|\d+ (\S+=\S* )*", "", text)  # build-arg prefix of RUN steps
    text = text.replace("/bin/sh -c ", "").removesuffix(" # buildkit")
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the report --------------------------------------------------------------------------


@dataclass
class ImageReport:
    """The facts `invoke build` prints and the budgets and policies it enforces."""

    target: str
    image_id: str
    tags: list[str]
    size: int
    base_size: int
    layers: int
    biggest: list[tuple[int, str]]
    problems: list[str] = field(default_factory=list)
    sbom: Path | None = None  # build/sbom/<name>_<sha tag>.cdx.json, once it passed

    @property
    def added(self) -> int:
        return self.size - self.base_size


def examine(
    target: str,
    inspect: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    base_inspect: Mapping[str, Any],
    budgets: Budgets,
    known: Sequence[str] = (),
) -> ImageReport:
    """Measure one built image and list every policy it breaks."""
    config = inspect.get("Config") or {}
    sized = sorted(
        ((int(h.get("Size") or 0), short(h.get("CreatedBy") or "", 40)) for h in history),
        reverse=True,
    )
    report = ImageReport(
        target=target,
        image_id=str(inspect.get("Id", "")),
        tags=[],
        size=int(inspect.get("Size") or 0),
        base_size=int(base_inspect.get("Size") or 0),
        layers=len((inspect.get("RootFS") or {}).get("Layers") or []),
        biggest=[item for item in sized if item[0] > 0][:3],
    )
    problems = report.problems
    if report.size > budgets.max_size_mb * MB:
        problems.append(f"size {report.size / MB:.0f} MB > budget {budgets.max_size_mb:g} MB")
    if report.added > budgets.max_added_mb * MB:
        problems.append(
            f"{report.added / MB:.0f} MB over the base > budget {budgets.max_added_mb:g} MB"
        )
    if report.layers > budgets.max_layers:
        problems.append(f"{report.layers} layers > budget {budgets.max_layers}")
    user = str(config.get("User") or "")
    if user.split(":")[0] in ("", "0", "root"):
        problems.append(f"runs as root (USER is {user or 'unset'})")
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        problems.append("no HEALTHCHECK")
    problems += [f"possible secret: {f}" for f in find_secrets(inspect, history, known)]
    return report


def report_table(reports: Sequence[ImageReport]) -> Table:
    from rich.table import Table

    table = Table(title="Images", title_justify="left")
    for column in ("image", "size", "over base", "layers", "biggest layers"):
        table.add_column(column, justify="right" if column in ("size", "layers") else "left")
    for r in reports:
        table.add_row(
            "\n".join(r.tags) or r.target,
            f"{r.size / MB:.1f} MB",
            f"{r.added / MB:+.1f} MB",
            str(r.layers),
            "\n".join(f"{size / MB:6.1f} MB  {what}" for size, what in r.biggest),
        )
    return table


class ImageCheckFailed(WorkflowError):
    """Built, but not fit to ship; carries the reports so the table can still be shown."""

    def __init__(self, details: str, reports: list[ImageReport]) -> None:
        super().__init__(
            f"image checks failed ({details}). Nothing was tagged. Fix the Dockerfile or"
            " raise the budget in invoke config (image.budgets) if the growth is intended."
        )
        self.reports = reports
