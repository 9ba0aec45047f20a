"""``<name>.hf.json``: where a model installed from the Hugging Face Hub came from.

Endpoint-independent on purpose: the same file installed through huggingface.co or a mirror records the
same repo, commit and path, so a later check works through whichever endpoint the user has then. The
token never goes in (nothing here knows it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

HF_INFO_SUFFIX = ".hf.json"


@dataclass(frozen=True)
class HubRecord:
    repo_id: str
    revision: str  # the commit sha the file was downloaded at
    path: str  # inside the repo
    sha256: str | None  # the LFS oid (None: a small non-LFS file, installed unverified)
    size: int
    installed_at: str  # ISO 8601, UTC

    def to_dict(self) -> dict:
        return asdict(self)


def hub_record_path(model_path: str | Path) -> Path:
    stem = os.path.splitext(str(model_path))[0]
    return Path(stem + HF_INFO_SUFFIX)


def read_hub_record(model_path: str | Path) -> HubRecord | None:
    """The record beside ``model_path``; None when there is none or it is not one (hand-edited, damaged)."""
    try:
        data = json.loads(hub_record_path(model_path).read_text(encoding="utf-8"))
        return HubRecord(repo_id=str(data["repo_id"]), revision=str(data["revision"]), path=str(data["path"]),
                         sha256=(str(data["sha256"]).lower() if data.get("sha256") else None),
                         size=int(data.get("size") or 0), installed_at=str(data.get("installed_at") or ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
