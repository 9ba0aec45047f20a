"""Where the Civitai API key lives: one small file, readable by its owner only, outside WebUI's folders.

WebUI keeps settings in config.json, which it serves back to the page, returns from
``/sdapi/v1/options`` and includes in "Download system info" reports that users attach to bug
reports. So the settings field only ever holds a mask, and the key itself is kept here:
``$MODEL_WORKBENCH_SECRETS_DIR/secrets.json``, default ``~/.config/sd-webui-model-workbench/`` — not under
WebUI's data folder, whose files gradio can serve.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from model_workbench.jsonfile import write_json_atomic

SECRETS_DIR_ENV = "MODEL_WORKBENCH_SECRETS_DIR"
MASK = "********"


def default_secrets_dir() -> Path:
    configured = os.environ.get(SECRETS_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "sd-webui-model-workbench"


class SecretStore:
    """A tiny JSON file of named secrets, written atomically with mode 0600."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or default_secrets_dir()) / "secrets.json"

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}

    def get(self, name: str) -> str:
        return self._load().get(name, "")

    def set(self, name: str, value: str) -> None:
        data = self._load()
        if value:
            data[name] = value
        else:
            data.pop(name, None)
        # mkstemp creates the temporary file 0600, so the key is never readable by others, not even briefly.
        write_json_atomic(self.path, data, mode=0o600)
