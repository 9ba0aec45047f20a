"""Turn the Hub's JSON into the package's types, tolerating the fields a mirror or an older Hub leaves out.

Field names are the Hub's own (the ones ``huggingface_hub``'s ``ModelInfo`` and ``RepoFile`` read):
``id``/``modelId``, ``author``, ``sha``, ``lastModified``, ``private``, ``gated``, ``downloads``,
``likes``, ``tags``, ``pipeline_tag``, ``library_name``, ``cardData``, ``siblings``; tree entries
``type``, ``path``, ``size``, ``oid`` and ``lfs`` {``oid`` (the SHA256), ``size``, ``pointerSize``}.
"""

from __future__ import annotations

import re
from typing import Any

from .types import HubFile, HubModel

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_PREVIEW_WORDS = ("preview", "sample", "example")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _gated(value: Any) -> bool | str:
    """The Hub says False, "auto" or "manual" (older answers: True)."""
    if isinstance(value, str):
        return value if value in ("auto", "manual") else bool(value.strip()) and value.lower() != "false"
    return bool(value)


def parse_model(obj: dict[str, Any]) -> HubModel:
    """One ``GET /api/models`` item, or the head of ``GET /api/models/{repo}``."""
    repo_id = str(obj.get("id") or obj.get("modelId") or "")
    author = obj.get("author") or (repo_id.split("/", 1)[0] if "/" in repo_id else "")
    tags = obj.get("tags") if isinstance(obj.get("tags"), list) else []
    return HubModel(
        repo_id=repo_id,
        author=str(author),
        downloads=_int(obj.get("downloads")),
        likes=_int(obj.get("likes")),
        last_modified=str(obj.get("lastModified") or obj.get("createdAt") or ""),
        gated=_gated(obj.get("gated", False)),
        private=bool(obj.get("private", False)),
        tags=tuple(str(t) for t in tags),
        pipeline_tag=obj.get("pipeline_tag") or None,
        library_name=obj.get("library_name") or None,
        sha=obj.get("sha") or None,
    )


def parse_tree_entry(obj: dict[str, Any], repo_id: str, revision: str) -> HubFile | None:
    """One ``/tree`` entry as a file (None for a directory): ``lfs.oid`` is the SHA256, ``lfs.size`` the size."""
    if obj.get("type", "file") != "file" or not obj.get("path"):
        return None
    lfs = obj.get("lfs") if isinstance(obj.get("lfs"), dict) else None
    sha256 = str(lfs.get("oid") or lfs.get("sha256") or "").lower() if lfs else ""
    size = _int(lfs.get("size")) if lfs and lfs.get("size") is not None else _int(obj.get("size"))
    return HubFile(repo_id=repo_id, revision=revision, path=str(obj["path"]), size=size,
                   sha256=sha256 if _SHA256.fullmatch(sha256) else None)


def parse_sibling(obj: dict[str, Any], repo_id: str, revision: str) -> HubFile | None:
    """A ``siblings`` item of ``/api/models/{repo}`` (sizes and ``lfs`` only when asked with ``blobs=true``)."""
    path = obj.get("rfilename")
    if not path:
        return None
    lfs = obj.get("lfs") if isinstance(obj.get("lfs"), dict) else None
    sha256 = str(lfs.get("sha256") or "").lower() if lfs else ""
    size = _int(lfs.get("size")) if lfs else _int(obj.get("size"))
    return HubFile(repo_id=repo_id, revision=revision, path=str(path), size=size,
                   sha256=sha256 if _SHA256.fullmatch(sha256) else None)


def strip_front_matter(markdown: str) -> str:
    """The model card without its YAML header (``---`` … ``---`` at the very top): that is ``cardData``."""
    text = markdown.lstrip("\ufeff")
    if not text.startswith("---"):
        return markdown
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return markdown
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return "".join(lines[i + 1:]).lstrip("\r\n")
    return markdown  # never closed: not front matter


def preview_path(paths: list[str]) -> str | None:
    """The image shown as the repo's preview: one named like a preview/sample/example first, else the first image."""
    images = [p for p in paths if p.lower().endswith(IMAGE_SUFFIXES)]
    named = [p for p in images if any(w in p.rsplit("/", 1)[-1].lower() for w in _PREVIEW_WORDS)]
    return (named or images or [None])[0]
