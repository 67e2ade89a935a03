"""Where the samples find their settings: the environment, else `make run`'s demo credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def credentials() -> dict[str, Any]:
    """The demo's credentials file (instance/demo-credentials.json), or {} when absent."""
    path = Path(os.environ.get("DEMO_CREDENTIALS", ROOT / "instance" / "demo-credentials.json"))
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def setting(name: str, *path: str, default: str = "") -> str:
    """`name` from the environment, else the value at `path` in the demo credentials."""
    if os.environ.get(name):
        return os.environ[name]
    value: Any = credentials() if path else None
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return str(value) if value is not None else default
