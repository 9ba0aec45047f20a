"""Training projects on disk, as DESIGN.md "Data on disk" lays them out.

    <root>/projects/<project>/
        dataset/<repeats>_<concept>/     images + .txt captions (kohya's folder convention)
        versions/<version>/config.json   the training config of that version (any JSON object)
        checkpoints/<project>_<version>-<epoch:06d>.safetensors   unique basenames
        samples/  grids/  train.log

Names are checked once here (no separators, no traversal, no reserved device names; Chinese
and other non-ASCII text is welcome), and every path is checked again to stay under the root.
Destructive calls need the name typed back as ``confirm``. Stdlib only: checkpoint metadata is
read from the safetensors JSON header without torch.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_workbench.jsonfile import write_json_atomic

MSG_HEADER_SHORT = "the file is shorter than a safetensors header"
MSG_HEADER_LENGTH = "the header claims {length} bytes"
MSG_HEADER_CUT = "the header is cut short"
MSG_HEADER_NOT_OBJECT = "the header is not a JSON object"

# --- messages (one place, plain sentences the UI can localise) -----------------------------
# The words filled into the MSG_NAME_* sentences as {kind}; they are translated like the sentences.
NAME_KINDS = ("project", "version", "concept")
MSG_NAME_EMPTY = "Enter a {kind} name."
MSG_NAME_TOO_LONG = "The {kind} name is too long; use at most {limit} characters."
MSG_NAME_BAD_CHAR = "The {kind} name must not contain {char!r}. Letters (any language), digits, spaces, '-', '_' and '.' are fine."
MSG_NAME_DOTS = "The {kind} name must not start or end with '.' or be '.' or '..'."
MSG_NAME_RESERVED = "'{name}' is a reserved name on Windows; choose another {kind} name."
MSG_NAME_SUFFIX = ("A version name must not end with '-state', '-step' and eight digits, or a dash and six "
                   "digits, which checkpoint names use.")
MSG_PROJECT_EXISTS = "A project named '{name}' already exists."
MSG_PROJECT_MISSING = "There is no project named '{name}'."
MSG_VERSION_EXISTS = "Project '{project}' already has a version named '{name}'."
MSG_VERSION_MISSING = "Project '{project}' has no version named '{name}'."
MSG_CONFIRM = "To delete '{name}', type its name exactly to confirm."
MSG_CONFIG_NOT_OBJECT = "A version's config must be a JSON object (a dict), not {type}."
MSG_CONFIG_UNREADABLE = "The config of version '{name}' cannot be read: {error}"
MSG_RENAME_CLASH = "Renaming would overwrite '{path}'; move that file away first."
MSG_CONCEPT_EXISTS = "Project '{project}' already has a concept named '{name}'."
MSG_CONCEPT_MISSING = "Project '{project}' has no concept named '{name}'."
MSG_REPEATS = "Repeats must be a whole number from 1 to {limit} (got {value!r})."
MSG_EPOCH = "The epoch must be a whole number from 0 to 999999 (got {value!r})."
MSG_OUTSIDE = "The path '{path}' is outside the projects folder."
MSG_SKIP_NOT_IMAGE = "not an image file type ({ext})"
MSG_SKIP_UNREADABLE = "the image cannot be read: the file is damaged or cut short"
MSG_SKIP_NOT_AN_IMAGE = "this file is not an image, whatever its name says"
MSG_SKIP_MISSING = "the file does not exist"
MSG_SKIP_SAME = "the same file is already in the concept folder"
MSG_HEADER_BAD = "The file is not a readable safetensors file: {error}"

PROJECTS_DIR = "projects"
DATASET_DIR = "dataset"
VERSIONS_DIR = "versions"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
GRIDS_DIR = "grids"
CONFIG_NAME = "config.json"
TRAIN_LOG = "train.log"
CHECKPOINT_EXT = ".safetensors"

NAME_LIMIT = 64  # characters; with "_<version>-000001.safetensors" a basename stays under 255 bytes
MAX_REPEATS = 10000
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})  # what kohya's dataset loads
CAPTION_EXTENSIONS = (".txt", ".caption")
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header

_FORBIDDEN = set('<>:"/\\|?*') | {chr(c) for c in range(32)} | {"\x7f"}
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_CONCEPT_DIR = re.compile(r"^(\d+)_(.+)$")
_VERSION_SUFFIX = re.compile(r"(-\d{6}|-step\d{8}|-state)$")


class ProjectError(ValueError):
    """A project operation cannot be done; the message says why and what to do."""


# --- names and paths -----------------------------------------------------------------------


def validate_name(name: str, kind: str = "project") -> str:
    """Return the cleaned name (trimmed, Unicode NFC) or raise ``ProjectError``.

    NFC so a name typed on macOS (decomposed) and on Windows (composed) is the same folder.
    """
    cleaned = unicodedata.normalize("NFC", str(name or "")).strip()
    if not cleaned:
        raise ProjectError(MSG_NAME_EMPTY.format(kind=kind))
    if len(cleaned) > NAME_LIMIT:
        raise ProjectError(MSG_NAME_TOO_LONG.format(kind=kind, limit=NAME_LIMIT))
    for ch in cleaned:
        if ch in _FORBIDDEN:
            raise ProjectError(MSG_NAME_BAD_CHAR.format(kind=kind, char=ch))
    if cleaned.startswith(".") or cleaned.endswith("."):
        raise ProjectError(MSG_NAME_DOTS.format(kind=kind))
    if cleaned.split(".")[0].strip().lower() in _RESERVED:
        raise ProjectError(MSG_NAME_RESERVED.format(name=cleaned, kind=kind))
    if kind == "version" and _VERSION_SUFFIX.search(cleaned):
        raise ProjectError(MSG_NAME_SUFFIX)
    return cleaned


def projects_dir(root: str | Path) -> Path:
    return Path(root) / PROJECTS_DIR


def _inside(root: str | Path, path: Path) -> Path:
    """Defence in depth: refuse any path that resolves outside ``<root>/projects``."""
    base = projects_dir(root).resolve()
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise ProjectError(MSG_OUTSIDE.format(path=path))
    return path


@dataclass(frozen=True)
class ProjectPaths:
    """Every path of one project."""

    root: Path
    name: str

    @property
    def dir(self) -> Path:
        return projects_dir(self.root) / self.name

    @property
    def dataset(self) -> Path:
        return self.dir / DATASET_DIR

    @property
    def versions(self) -> Path:
        return self.dir / VERSIONS_DIR

    @property
    def checkpoints(self) -> Path:
        return self.dir / CHECKPOINTS_DIR

    @property
    def samples(self) -> Path:
        return self.dir / SAMPLES_DIR

    @property
    def grids(self) -> Path:
        return self.dir / GRIDS_DIR

    @property
    def train_log(self) -> Path:
        return self.dir / TRAIN_LOG

    def version_dir(self, version: str) -> Path:
        return self.versions / validate_name(version, "version")

    def version_config(self, version: str) -> Path:
        return self.version_dir(version) / CONFIG_NAME

    def checkpoint(self, version: str, epoch: int) -> Path:
        return self.checkpoints / checkpoint_filename(self.name, version, epoch)


def project_paths(root: str | Path, project: str) -> ProjectPaths:
    paths = ProjectPaths(Path(root), validate_name(project))
    _inside(root, paths.dir)
    return paths


def _existing_project(root: str | Path, project: str) -> ProjectPaths:
    paths = project_paths(root, project)
    if not paths.dir.is_dir():
        raise ProjectError(MSG_PROJECT_MISSING.format(name=paths.name))
    return paths


def output_name(project: str, version: str) -> str:
    """kohya's ``output_name`` for a version: ``<project>_<version>``."""
    return f"{validate_name(project)}_{validate_name(version, 'version')}"


def checkpoint_basename(project: str, version: str, epoch: int) -> str:
    """``<project>_<version>-<epoch:06d>``: kohya's per-epoch name, unique across projects and versions."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= 999999:
        raise ProjectError(MSG_EPOCH.format(value=epoch))
    return f"{output_name(project, version)}-{epoch:06d}"


def checkpoint_filename(project: str, version: str, epoch: int) -> str:
    return checkpoint_basename(project, version, epoch) + CHECKPOINT_EXT


def _version_files_pattern(project: str, version: str) -> re.Pattern[str]:
    """Files and folders that belong to one version in ``checkpoints/``: per-epoch, per-step
    (``-step00000500``) and final checkpoints, their sidecars (``.json``, ``.preview.png``...) and
    the ``-state`` folders a resume reads."""
    return re.compile(rf"^{re.escape(project)}_{re.escape(version)}(?:-\d{{6}}|-step\d{{8}})?(?:-state)?(?:\..*)?$")


def _checkpoint_pattern(project: str, version: str) -> re.Pattern[str]:
    return re.compile(
        rf"^{re.escape(project)}_{re.escape(version)}(?:-(\d{{6}})|-step(\d{{8}}))?{re.escape(CHECKPOINT_EXT)}$"
    )


# --- projects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    path: Path
    versions: list[str]
    concepts: int
    checkpoints: int
    modified: float


def create_project(root: str | Path, project: str) -> ProjectPaths:
    """Create the project folder with its standard subfolders."""
    paths = project_paths(root, project)
    if paths.dir.exists():
        raise ProjectError(MSG_PROJECT_EXISTS.format(name=paths.name))
    for sub in (paths.dataset, paths.versions, paths.checkpoints, paths.samples, paths.grids):
        sub.mkdir(parents=True, exist_ok=True)
    return paths


def list_projects(root: str | Path) -> list[ProjectInfo]:
    base = projects_dir(root)
    if not base.is_dir():
        return []
    infos = []
    for entry in sorted(base.iterdir(), key=lambda p: p.name.lower()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            paths = project_paths(root, entry.name)
        except ProjectError:
            continue  # a folder someone made by hand with a name we would refuse: not ours to show
        checkpoints = list(paths.checkpoints.glob("*" + CHECKPOINT_EXT)) if paths.checkpoints.is_dir() else []
        infos.append(
            ProjectInfo(
                name=paths.name,
                path=paths.dir,
                versions=[v.name for v in list_versions(root, paths.name)],
                concepts=len(list_concepts(root, paths.name)),
                checkpoints=len(checkpoints),
                modified=entry.stat().st_mtime,
            )
        )
    return infos


def _rewrite_paths(value: Any, old: str, new: str) -> Any:
    """Point config strings that named the old folder (output_dir, train_data_dir...) at the new one."""
    if isinstance(value, str):
        if value == old or value.startswith(old + os.sep) or value.startswith(old + "/"):
            return new + value[len(old):]
        return value
    if isinstance(value, dict):
        return {k: _rewrite_paths(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_paths(v, old, new) for v in value]
    return value


def _version_files(checkpoints: Path, project: str, version: str) -> list[Path]:
    if not checkpoints.is_dir():
        return []
    pattern = _version_files_pattern(project, version)
    return [entry for entry in sorted(checkpoints.iterdir()) if pattern.match(entry.name)]


def _rename_version_files(checkpoints: Path, old_prefix: tuple[str, str], new_prefix: tuple[str, str],
                          apply: bool) -> list[tuple[Path, Path]]:
    """Plan (and with ``apply`` do) the renames of one version's files in ``checkpoints/``."""
    old_stem = f"{old_prefix[0]}_{old_prefix[1]}"
    new_stem = f"{new_prefix[0]}_{new_prefix[1]}"
    moves = [(entry, checkpoints / (new_stem + entry.name[len(old_stem):]))
             for entry in _version_files(checkpoints, *old_prefix)]
    if apply:
        for src, dst in moves:
            src.rename(dst)
    return moves


def _check_no_clash(moves: Iterable[tuple[Path, Path]]) -> None:
    sources = {src for src, _ in moves}
    for _, dst in moves:
        if dst.exists() and dst not in sources:
            raise ProjectError(MSG_RENAME_CLASH.format(path=dst))


def _update_config(config_path: Path, old_name: str, new_name: str, old_dir: Path, new_dir: Path) -> None:
    if not config_path.is_file():
        return
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # an unreadable config is left as it is; read_version_config reports it
    if not isinstance(config, dict):
        return
    updated = _rewrite_paths(config, str(old_dir), str(new_dir))
    if updated.get("output_name") == old_name:
        updated["output_name"] = new_name
    if updated != config:
        _write_json(config_path, updated)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def rename_project(root: str | Path, old: str, new: str) -> ProjectPaths:
    """Rename a project and, consistently, its checkpoint basenames and the paths/names in its configs."""
    src = _existing_project(root, old)
    dst = project_paths(root, new)
    if src.name == dst.name:
        return src
    case_only = _same_folder(src.dir, dst.dir)  # "Cat" → "cat" on a case-insensitive disk
    if dst.dir.exists() and not case_only:
        raise ProjectError(MSG_PROJECT_EXISTS.format(name=dst.name))
    versions = [v.name for v in list_versions(root, src.name)]
    moves = []
    for version in versions:
        moves += _rename_version_files(src.checkpoints, (src.name, version), (dst.name, version), apply=False)
    _check_no_clash(moves)  # before touching anything, so a clash loses nothing

    if case_only:
        tmp = src.dir.with_name(f".{src.name}.renaming")
        src.dir.rename(tmp)
        tmp.rename(dst.dir)
    else:
        src.dir.rename(dst.dir)
    for version in versions:
        _rename_version_files(dst.checkpoints, (src.name, version), (dst.name, version), apply=True)
        _update_config(dst.version_config(version), f"{src.name}_{version}", f"{dst.name}_{version}",
                       src.dir, dst.dir)
    return dst


def delete_project(root: str | Path, project: str, confirm: str) -> None:
    """Delete a project and everything in it; ``confirm`` must be the project's name typed again."""
    paths = _existing_project(root, project)
    if unicodedata.normalize("NFC", str(confirm or "")).strip() != paths.name:
        raise ProjectError(MSG_CONFIRM.format(name=paths.name))
    shutil.rmtree(_inside(root, paths.dir))


# --- versions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    name: str
    path: Path
    has_config: bool
    checkpoints: int
    modified: float


def _write_json(path: Path, data: Any) -> None:
    write_json_atomic(path, data, indent=2)


def _check_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ProjectError(MSG_CONFIG_NOT_OBJECT.format(type=type(config).__name__))
    json.dumps(config)  # fail now, before anything is written, if it is not JSON-serialisable
    return config


def create_version(root: str | Path, project: str, version: str,
                   config: dict[str, Any] | None = None) -> Path:
    """Create ``versions/<version>/`` with its ``config.json`` (an empty object when none is given)."""
    paths = _existing_project(root, project)
    name = validate_name(version, "version")
    folder = paths.version_dir(name)
    if folder.exists():
        raise ProjectError(MSG_VERSION_EXISTS.format(project=paths.name, name=name))
    data = _check_config(config if config is not None else {})
    folder.mkdir(parents=True)
    _write_json(folder / CONFIG_NAME, data)
    return folder


def list_versions(root: str | Path, project: str) -> list[VersionInfo]:
    paths = _existing_project(root, project)
    if not paths.versions.is_dir():
        return []
    infos = []
    for entry in sorted(paths.versions.iterdir(), key=lambda p: p.name.lower()):
        if not entry.is_dir():
            continue
        try:
            name = validate_name(entry.name, "version")
        except ProjectError:
            continue
        pattern = _checkpoint_pattern(paths.name, name)
        count = sum(1 for f in paths.checkpoints.iterdir() if pattern.match(f.name)) if paths.checkpoints.is_dir() else 0
        infos.append(VersionInfo(name=name, path=entry, has_config=(entry / CONFIG_NAME).is_file(),
                                 checkpoints=count, modified=entry.stat().st_mtime))
    return infos


def _existing_version(root: str | Path, project: str, version: str) -> tuple[ProjectPaths, str]:
    paths = _existing_project(root, project)
    name = validate_name(version, "version")
    if not paths.version_dir(name).is_dir():
        raise ProjectError(MSG_VERSION_MISSING.format(project=paths.name, name=name))
    return paths, name


def read_version_config(root: str | Path, project: str, version: str) -> dict[str, Any]:
    paths, name = _existing_version(root, project, version)
    config_path = paths.version_config(name)
    if not config_path.is_file():
        return {}
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(MSG_CONFIG_UNREADABLE.format(name=name, error=exc)) from None
    if not isinstance(data, dict):
        raise ProjectError(MSG_CONFIG_UNREADABLE.format(name=name, error="it is not a JSON object"))
    return data


def write_version_config(root: str | Path, project: str, version: str, config: dict[str, Any]) -> Path:
    """Replace a version's config (atomically: a crash leaves the old one, never half a file)."""
    paths, name = _existing_version(root, project, version)
    _write_json(paths.version_config(name), _check_config(config))
    return paths.version_config(name)


def rename_version(root: str | Path, project: str, old: str, new: str) -> Path:
    """Rename a version folder and its checkpoint files (``<project>_<old>-*`` → ``<project>_<new>-*``)."""
    paths, old_name = _existing_version(root, project, old)
    new_name = validate_name(new, "version")
    if new_name == old_name:
        return paths.version_dir(old_name)
    case_only = _same_folder(paths.version_dir(old_name), paths.version_dir(new_name))
    if paths.version_dir(new_name).exists() and not case_only:
        raise ProjectError(MSG_VERSION_EXISTS.format(project=paths.name, name=new_name))
    moves = _rename_version_files(paths.checkpoints, (paths.name, old_name), (paths.name, new_name), apply=False)
    _check_no_clash(moves)
    src, dst = paths.version_dir(old_name), paths.version_dir(new_name)
    if case_only:
        tmp = src.with_name(f".{old_name}.renaming")
        src.rename(tmp)
        tmp.rename(dst)
    else:
        src.rename(dst)
    _rename_version_files(paths.checkpoints, (paths.name, old_name), (paths.name, new_name), apply=True)
    _update_config(dst / CONFIG_NAME, f"{paths.name}_{old_name}", f"{paths.name}_{new_name}", src, dst)
    return dst


def delete_version(root: str | Path, project: str, version: str, confirm: str) -> None:
    """Delete a version's folder and its checkpoints; ``confirm`` must be the version's name."""
    paths, name = _existing_version(root, project, version)
    if unicodedata.normalize("NFC", str(confirm or "")).strip() != name:
        raise ProjectError(MSG_CONFIRM.format(name=name))
    for src in _version_files(paths.checkpoints, paths.name, name):
        if src.is_dir():
            shutil.rmtree(_inside(root, src))
        else:
            _inside(root, src).unlink()
    shutil.rmtree(_inside(root, paths.version_dir(name)))


# --- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    epoch: int | None
    size: int
    mtime: float
    steps: int | None = None
    loss: float | None = None
    final: bool = False  # kohya's last file has no epoch suffix
    step_file: bool = False  # saved every N steps (``-step00000500``) rather than at an epoch's end
    metadata: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def name(self) -> str:
        return self.path.stem


def read_safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file, read from its JSON header only (no tensors, no torch).

    Layout: 8-byte little-endian header length, then that many bytes of JSON.
    """
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(MSG_HEADER_SHORT)
        (length,) = struct.unpack("<Q", raw)
        if length > _MAX_HEADER:
            raise ValueError(MSG_HEADER_LENGTH.format(length=length))
        header = fh.read(length)
    if len(header) != length:
        raise ValueError(MSG_HEADER_CUT)
    data = json.loads(header.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(MSG_HEADER_NOT_OBJECT)
    meta = data.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def _as_int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None  # NaN says nothing useful


def _read_sidecar(path: Path) -> dict[str, Any]:
    """Training stats our trainer may leave beside a checkpoint: ``<file>.json`` or ``<stem>.json``."""
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                return data
    return {}


def checkpoint_info(path: str | Path, epoch: int | None = None) -> CheckpointInfo:
    """Size, time, epoch, steps and loss of one checkpoint file; a bad header is reported, not raised."""
    path = Path(path)
    stat = path.stat()
    error = ""
    try:
        meta = read_safetensors_metadata(path)
    except (OSError, ValueError) as exc:
        meta, error = {}, MSG_HEADER_BAD.format(error=exc)
    side = _read_sidecar(path)
    if epoch is None:
        epoch = _as_int(side.get("epoch", meta.get("ss_epoch")))
    steps = _as_int(next((side[k] for k in ("steps", "global_step", "step") if k in side), meta.get("ss_steps")))
    loss = _as_float(next((side[k] for k in ("loss", "avg_loss", "mean_loss") if k in side), None))
    # Keep the kohya training facts, not cover images or other large blobs.
    small = {k: v for k, v in meta.items() if k.startswith("ss_") and len(v) <= 512}
    return CheckpointInfo(path=path, epoch=epoch, size=stat.st_size, mtime=stat.st_mtime, steps=steps,
                          loss=loss, metadata=small, error=error)


def list_checkpoints(root: str | Path, project: str, version: str) -> list[CheckpointInfo]:
    """The checkpoints of one version in training order (by epoch, then step; the final file last)."""
    paths, name = _existing_version(root, project, version)
    if not paths.checkpoints.is_dir():
        return []
    pattern = _checkpoint_pattern(paths.name, name)
    infos = []
    for entry in paths.checkpoints.iterdir():
        match = pattern.match(entry.name)
        if not match or not entry.is_file():
            continue
        epoch_text, step_text = match.group(1), match.group(2)
        info = checkpoint_info(entry, int(epoch_text) if epoch_text else None)
        extra: dict[str, Any] = {"final": epoch_text is None and step_text is None, "step_file": step_text is not None}
        if step_text is not None:
            extra["steps"] = int(step_text)  # the name is the step it was saved at
        infos.append(CheckpointInfo(**{**info.__dict__, **extra}))
    # Epoch first (a step file carries the epoch it was saved in, as ss_epoch), then step.
    infos.sort(key=lambda i: (i.final, i.epoch if i.epoch is not None else -1,
                              i.steps if i.steps is not None else -1, i.path.name))
    return infos


# --- dataset concepts ----------------------------------------------------------------------


@dataclass(frozen=True)
class ConceptInfo:
    name: str
    repeats: int
    path: Path
    images: int
    captions: int


@dataclass
class ImportReport:
    """What an import copied and what it skipped, with a reason a user can act on."""

    copied: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _check_repeats(repeats: Any) -> int:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise ProjectError(MSG_REPEATS.format(limit=MAX_REPEATS, value=repeats))
    return repeats


def concept_dirname(concept: str, repeats: int) -> str:
    return f"{_check_repeats(repeats)}_{validate_name(concept, 'concept')}"


def list_concepts(root: str | Path, project: str) -> list[ConceptInfo]:
    """Concept folders named ``<repeats>_<concept>``; other folders are ignored, as kohya ignores them."""
    paths = _existing_project(root, project)
    if not paths.dataset.is_dir():
        return []
    infos = []
    for entry in sorted(paths.dataset.iterdir(), key=lambda p: p.name.lower()):
        match = _CONCEPT_DIR.match(entry.name)
        if not entry.is_dir() or not match:
            continue
        files = [f for f in entry.iterdir() if f.is_file()]
        infos.append(
            ConceptInfo(
                name=match.group(2),
                repeats=int(match.group(1)),
                path=entry,
                images=sum(1 for f in files if f.suffix.lower() in IMAGE_EXTENSIONS),
                captions=sum(1 for f in files if f.suffix.lower() in CAPTION_EXTENSIONS),
            )
        )
    return infos


def _find_concept(root: str | Path, project: str, concept: str) -> ConceptInfo | None:
    name = validate_name(concept, "concept")
    return next((c for c in list_concepts(root, project) if c.name == name), None)


def _existing_concept(root: str | Path, project: str, concept: str) -> ConceptInfo:
    found = _find_concept(root, project, concept)
    if found is None:
        raise ProjectError(MSG_CONCEPT_MISSING.format(project=validate_name(project), name=concept))
    return found


def create_concept(root: str | Path, project: str, concept: str, repeats: int = 10) -> Path:
    paths = _existing_project(root, project)
    if _find_concept(root, project, concept) is not None:
        raise ProjectError(MSG_CONCEPT_EXISTS.format(project=paths.name, name=validate_name(concept, "concept")))
    folder = paths.dataset / concept_dirname(concept, repeats)
    folder.mkdir(parents=True)
    return folder


def set_concept_repeats(root: str | Path, project: str, concept: str, repeats: int) -> Path:
    """Change a concept's repeats by renaming its folder (kohya reads repeats from the name)."""
    found = _existing_concept(root, project, concept)
    target = found.path.with_name(concept_dirname(found.name, repeats))
    if target != found.path:
        found.path.rename(target)
    return target


def _iter_sources(sources: Iterable[str | Path]) -> Iterable[Path]:
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() not in CAPTION_EXTENSIONS)
        else:
            yield path


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 0
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{suffix}"
    return target


def import_images(root: str | Path, project: str, concept: str, sources: Iterable[str | Path]) -> ImportReport:
    """Copy image files (or every image in given folders) into a concept folder.

    Non-images and unreadable images are skipped and reported; a caption ``.txt`` beside an image
    comes along under the same new stem. Nothing in the concept folder is ever overwritten.
    """
    from PIL import Image, UnidentifiedImageError  # imported here so listing projects never needs Pillow

    folder = _existing_concept(root, project, concept).path
    report = ImportReport()
    for source in _iter_sources(sources):
        if not source.is_file():
            report.skipped.append((source, MSG_SKIP_MISSING))
            continue
        ext = source.suffix.lower()
        if ext not in IMAGE_EXTENSIONS:
            report.skipped.append((source, MSG_SKIP_NOT_IMAGE.format(ext=ext or "no extension")))
            continue
        # Pillow's own words name the temporary copy (an upload's path) and its internals: say it our way.
        try:
            with Image.open(source) as im:
                im.verify()
        except UnidentifiedImageError:
            report.skipped.append((source, MSG_SKIP_NOT_AN_IMAGE))
            continue
        except Exception:  # noqa: BLE001 - Pillow raises many types for a damaged file
            report.skipped.append((source, MSG_SKIP_UNREADABLE))
            continue
        same = folder / source.name
        if same.exists() and filecmp.cmp(source, same, shallow=False):
            report.skipped.append((source, MSG_SKIP_SAME))
            continue
        target = _free_name(folder, source.name)
        shutil.copy2(source, target)
        report.copied.append(target)
        for caption_ext in CAPTION_EXTENSIONS:
            caption = source.with_suffix(caption_ext)
            if caption.is_file() and not target.with_suffix(caption_ext).exists():
                shutil.copy2(caption, target.with_suffix(caption_ext))
    return report
