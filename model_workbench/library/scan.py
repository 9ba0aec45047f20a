"""Walk the model folders and describe every model file found: the library's inventory.

Rules follow WebUI's own listing (modules/util.walk_files and each kind's loader):
* folders are walked recursively and directory symlinks are followed (loops are cut);
* hidden folders and files (names starting with ".") are skipped unless `include_hidden`
  (inside WebUI pass `opts.list_hidden_files`);
* only the extensions WebUI loads for a kind count (see kinds.py), so downloads in progress
  (`.part`) and sidecars are never taken for models;
* a model's name is its path relative to the folder it was found in, without extension, with '/'.

Cost: one `stat` per model file (DirEntry.stat) plus one listing and one stat per folder (the
stat cuts symlink loops); sidecars are found in the listing already read. The safetensors header (base model) is read only for a
file whose path, size or mtime is new to the HeaderInfoCache.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import messages
from .hash_cache import normalize_path
from .header_cache import HeaderInfo, HeaderInfoCache
from .hub_record import HF_INFO_SUFFIX
from .kinds import (
    CIVITAI_INFO_SUFFIX,
    PREVIEW_EXTENSIONS,
    USER_METADATA_SUFFIX,
    ModelKind,
    is_model_file,
    parse_kind,
    webui_hash_title,
)

SIDECAR_PREVIEW = "preview"
SIDECAR_JSON = "json"
SIDECAR_CIVITAI_INFO = "civitai_info"
SOURCE_CIVITAI = "civitai"
SOURCE_HUB = "hub"


@dataclass
class ModelRecord:
    """One model file on disk, as the library sees it."""

    kind: ModelKind
    path: str  # absolute path
    root: str  # the configured model folder it was found in
    name: str  # relative to root, without extension, '/'-separated: what WebUI calls it
    size: int
    mtime_ns: int
    inode: int = 0
    device: int = 0
    header: HeaderInfo = field(default_factory=HeaderInfo)
    preview_path: str | None = None
    has_user_metadata: bool = False  # <stem>.json
    has_civitai_info: bool = False  # <stem>.civitai.info
    has_hf_info: bool = False  # <stem>.hf.json: installed from the Hugging Face Hub
    sha256: str | None = None  # filled by the hasher or from the hash cache

    @property
    def filename(self) -> str:
        return os.path.basename(self.path)

    @property
    def stem_path(self) -> str:
        """The path without extension: sidecars are `<stem_path>.json` and so on."""
        return os.path.splitext(self.path)[0]

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9

    @property
    def base_model(self) -> str | None:
        return self.header.base_model

    @property
    def relative_path(self) -> str:
        """Path relative to root, with extension and '/' separators."""
        return self.name + os.path.splitext(self.path)[1]

    @property
    def webui_hash_title(self) -> str | None:
        return webui_hash_title(self.kind, self.relative_path)

    @property
    def autov2(self) -> str | None:
        """The short hash WebUI and Civitai show (AutoV2): the first 10 hex digits, upper case."""
        return self.sha256[:10].upper() if self.sha256 else None

    @property
    def source(self) -> str:
        """Where the file came from, as its sidecars say: "hub", "civitai" or "" (unknown)."""
        if self.has_hf_info:
            return SOURCE_HUB
        return SOURCE_CIVITAI if self.has_civitai_info else ""

    @property
    def missing_sidecars(self) -> tuple[str, ...]:
        missing = []
        if self.preview_path is None:
            missing.append(SIDECAR_PREVIEW)
        if not self.has_user_metadata:
            missing.append(SIDECAR_JSON)
        if not self.has_civitai_info:
            missing.append(SIDECAR_CIVITAI_INFO)
        return tuple(missing)

    def to_dict(self) -> dict:
        """A JSON-friendly view for the UI layer."""
        return {
            "kind": self.kind.value,
            "path": self.path,
            "name": self.name,
            "filename": self.filename,
            "size": self.size,
            "mtime": self.mtime,
            "base_model": self.header.base_model,
            "base_family": self.header.base_family,
            "base_model_source": self.header.base_model_source,
            "flavour": self.header.flavour,
            "alias": self.header.alias,
            "preview_path": self.preview_path,
            "has_user_metadata": self.has_user_metadata,
            "has_civitai_info": self.has_civitai_info,
            "has_hf_info": self.has_hf_info,
            "source": self.source,
            "missing_sidecars": list(self.missing_sidecars),
            "sha256": self.sha256,
            "autov2": self.autov2,
        }


@dataclass
class ScanResult:
    records: list[ModelRecord] = field(default_factory=list)
    missing_folders: list[str] = field(default_factory=list)  # configured but absent (not an error)
    errors: list[str] = field(default_factory=list)  # sentences for the user
    seconds: float = 0.0

    def by_kind(self, kind: ModelKind | str) -> list[ModelRecord]:
        wanted = parse_kind(kind)
        return [r for r in self.records if r.kind is wanted]


def natural_sort_key(text: str) -> list:
    """'model2' before 'model10', case-insensitive: the order WebUI lists files in."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


class _DirListing:
    """The names in one directory, used to find sidecars without another system call."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = set(names)
        # Windows and macOS folders usually ignore case, so a `.PNG` preview still counts there.
        self.folded = {n.lower() for n in self.names} if os.name == "nt" else None

    def has(self, name: str) -> bool:
        if name in self.names:
            return True
        return self.folded is not None and name.lower() in self.folded


def _sidecars(directory: str, stem: str, listing: _DirListing) -> tuple[str | None, bool, bool, bool]:
    preview = None
    for ext in PREVIEW_EXTENSIONS:
        for candidate in (f"{stem}.preview.{ext}", f"{stem}.{ext}"):
            if listing.has(candidate):
                preview = os.path.join(directory, candidate)
                break
        if preview:
            break
    return (
        preview,
        listing.has(stem + USER_METADATA_SUFFIX),
        listing.has(stem + CIVITAI_INFO_SUFFIX),
        listing.has(stem + HF_INFO_SUFFIX),
    )


class LibraryScanner:
    """Scans model folders; keeps header info cached between scans (and on disk if given a path)."""

    def __init__(self, header_cache: HeaderInfoCache | None = None, include_hidden: bool = False) -> None:
        self.header_cache = header_cache or HeaderInfoCache(None)
        self.include_hidden = include_hidden

    def scan(self, folders: Mapping[ModelKind | str, Sequence[str]]) -> ScanResult:
        """List every model in `folders` ({kind: [folder, ...]}); never raises for a bad folder."""
        started = time.monotonic()
        result = ScanResult()
        for raw_kind, roots in folders.items():
            kind = parse_kind(raw_kind)
            seen_paths: set[str] = set()  # a file reachable from two configured folders counts once
            for root in roots:
                if not root:
                    continue
                root_abs = os.path.abspath(root)
                if not os.path.isdir(root_abs):
                    result.missing_folders.append(root_abs)
                    continue
                self._scan_root(kind, root_abs, seen_paths, result)
        result.records.sort(key=lambda r: (list(ModelKind).index(r.kind), natural_sort_key(r.name)))
        scanned_kinds = {parse_kind(k) for k in folders}
        self.header_cache.retain_only({normalize_path(r.path) for r in result.records}, scanned_kinds)
        try:
            self.header_cache.save()
        except OSError as exc:
            result.errors.append(messages.cache_not_saved(self.header_cache.path, exc))
        result.seconds = time.monotonic() - started
        return result

    def _scan_root(self, kind: ModelKind, root: str, seen_paths: set[str], result: ScanResult) -> None:
        visited_dirs: set[tuple[int, int]] = set()
        # (folder, its path relative to root with a trailing '/'): names come from string
        # concatenation instead of os.path.relpath, which dominated the cost of a warm scan.
        stack = [(root, "")]
        while stack:
            directory, relative_dir = stack.pop()
            try:
                dir_stat = os.stat(directory)
                with os.scandir(directory) as iterator:
                    entries = list(iterator)
            except OSError as exc:
                result.errors.append(messages.folder_unreadable(directory, exc))
                continue
            identity = (dir_stat.st_dev, dir_stat.st_ino)
            if identity in visited_dirs:  # a symlink loop, or a folder linked twice
                continue
            visited_dirs.add(identity)
            listing = _DirListing(e.name for e in entries)
            for entry in entries:
                if not self.include_hidden and entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir():  # follows symlinks, as WebUI's os.walk(followlinks=True)
                        stack.append((entry.path, relative_dir + entry.name + "/"))
                        continue
                except OSError:
                    continue
                if not is_model_file(kind, entry.name):
                    continue
                record = self._record(kind, root, directory, relative_dir, entry, listing, result)
                if record is not None and record.path not in seen_paths:
                    seen_paths.add(record.path)
                    result.records.append(record)

    def _record(
        self,
        kind: ModelKind,
        root: str,
        directory: str,
        relative_dir: str,
        entry: os.DirEntry,
        listing: _DirListing,
        result: ScanResult,
    ) -> ModelRecord | None:
        try:
            st = entry.stat()  # the one stat per file
        except OSError as exc:
            result.errors.append(messages.file_unreadable(entry.path, exc))
            return None
        path = entry.path
        stem, _ext = os.path.splitext(entry.name)
        preview, has_json, has_info, has_hf = _sidecars(directory, stem, listing)
        return ModelRecord(
            kind=kind,
            path=path,
            root=root,
            name=relative_dir + stem,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            inode=st.st_ino,
            device=st.st_dev,
            header=self.header_cache.get_or_read(kind, path, st.st_size, st.st_mtime_ns),
            preview_path=preview,
            has_user_metadata=has_json,
            has_civitai_info=has_info,
            has_hf_info=has_hf,
        )
