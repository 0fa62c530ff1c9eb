"""Sample `docker inspect` and `docker history` data shared by the image tests."""

from __future__ import annotations

from typing import Any

from gemini_workflow import image_checks

BUDGETS = image_checks.Budgets(max_size_mb=300, max_added_mb=100, max_layers=8)
GOOD_CONFIG = {
    "User": "10001:10001",
    "Healthcheck": {"Test": ["CMD", "python", "-m", "gemini_service.healthcheck"]},
    "Env": ["PATH=/opt/venv/bin:/usr/bin", "PORT=8000", "GEMINI_MODEL=gemini-2.5-flash"],
    "Labels": {"org.opencontainers.image.version": "1.2.3"},
}


def inspect_data(size_mb: float = 230, layers: int = 4, **config: Any) -> dict[str, Any]:
    return {
        "Id": "sha256:abc",
        "Size": int(size_mb * image_checks.MB),
        "RootFS": {"Layers": [f"sha256:{i}" for i in range(layers)]},
        "Config": {**GOOD_CONFIG, **config},
    }


HISTORY = [
    {"CreatedBy": 'ENTRYPOINT ["python" "-m" "gemini_service"]', "Size": 0},
    {"CreatedBy": "COPY /opt/project/ /opt/venv/lib/python3.11/site-packages/", "Size": 211_000},
    {"CreatedBy": "COPY /opt/venv /opt/venv # buildkit", "Size": 60_200_000},
    {"CreatedBy": "", "Size": 169_000_000},
]
BASE = {"Size": 169_000_000}
