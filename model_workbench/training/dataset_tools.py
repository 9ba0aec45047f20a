"""Preparing a project's dataset: captions (read, edit, batch tag changes, frequencies), preprocessing
(size, crop or pad, mirrored copies) and auto-tagging through the host (DeepBooru or BLIP).

Works on ``<project>/dataset/<repeats>_<concept>/`` with a ``.txt`` caption beside each image, the
layout kohya and the trainer read. Preprocessing keeps each original once in ``<project>/originals/``
so a wrong size can be redone from the source.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from ..host import Host, ProgressUpdate
from . import projects

ORIGINALS_DIR = "originals"
TAG_JOB = "model-workbench-tag"
MODES = ("crop", "pad", "resize")
TAG_MODES = ("append", "replace", "skip captioned")

MSG_BAD_SIZE = "Width and height must be whole numbers from 64 to 4096 (got {width}×{height})."
MSG_BAD_MODE = "The resize mode must be one of: crop, pad, resize."
MSG_BAD_TAG_MODE = "The caption mode must be one of: append, replace, skip captioned."
MSG_NO_IMAGES = "The project {project} has no images yet; add some in a concept folder first."


@dataclass(frozen=True)
class DatasetImage:
    path: Path
    concept: str
    repeats: int
    caption: str

    @property
    def caption_path(self) -> Path:
        return self.path.with_suffix(".txt")


def split_tags(caption: str) -> list[str]:
    return [t.strip() for t in caption.replace("\n", ",").split(",") if t.strip()]


def join_tags(tags: Iterable[str]) -> str:
    return ", ".join(tags)


def dataset_images(root: str | Path, project: str, concept: str | None = None) -> list[DatasetImage]:
    """Every image of the project's concept folders (or of one concept) with its caption ("" when none)."""
    out = []
    for info in projects.list_concepts(root, project):
        if concept and info.name != concept:
            continue
        for path in sorted(info.path.iterdir()):
            if path.is_file() and path.suffix.lower() in projects.IMAGE_EXTENSIONS:
                caption_path = path.with_suffix(".txt")
                caption = caption_path.read_text(encoding="utf-8-sig").strip() if caption_path.is_file() else ""
                out.append(DatasetImage(path, info.name, info.repeats, caption))
    return out


def _check_in_dataset(root: str | Path, project: str, image: str | Path) -> Path:
    paths = projects.project_paths(root, project)
    path = Path(image).resolve()
    if paths.dataset.resolve() not in path.parents:
        raise projects.ProjectError(projects.MSG_OUTSIDE.format(path=image))
    return path


def write_caption(root: str | Path, project: str, image: str | Path, caption: str) -> Path:
    """Write one image's caption (``<stem>.txt``); the image must be in the project's dataset."""
    target = _check_in_dataset(root, project, image).with_suffix(".txt")
    target.write_text(caption.strip() + "\n", encoding="utf-8")
    return target


def edit_tags(root: str | Path, project: str, images: Sequence[str | Path] | None = None, *,
              add: Sequence[str] = (), remove: Sequence[str] = (), replace: tuple[str, str] | None = None,
              front: bool = False) -> int:
    """Batch tag edits on the given images (all of the project's when None); returns how many changed.

    Tags compare case-insensitively; added tags are not repeated; a replacement that produces a tag
    already present merges into it.
    """
    items = dataset_images(root, project)
    if images is not None:
        wanted = {Path(p).resolve() for p in images}
        items = [i for i in items if i.path.resolve() in wanted]
    add = [t.strip() for t in add if t.strip()]
    remove_keys = {t.strip().lower() for t in remove if t.strip()}
    changed = 0
    for item in items:
        tags = split_tags(item.caption)
        if replace and replace[0].strip():
            old, new = replace[0].strip().lower(), replace[1].strip()
            tags = [new if t.lower() == old else t for t in tags]
            tags = [t for t in tags if t]
        tags = [t for t in tags if t.lower() not in remove_keys]
        present = {t.lower() for t in tags}
        extra = [t for t in add if t.lower() not in present]
        tags = extra + tags if front else tags + extra
        seen: set[str] = set()
        unique = [t for t in tags if not (t.lower() in seen or seen.add(t.lower()))]
        new_caption = join_tags(unique)
        if new_caption != item.caption:
            write_caption(root, project, item.path, new_caption)
            changed += 1
    return changed


def tag_frequency(root: str | Path, project: str) -> list[tuple[str, int]]:
    """Tags over all captions, most frequent first (ties alphabetical)."""
    counts: Counter[str] = Counter()
    for item in dataset_images(root, project):
        counts.update({t.lower() for t in split_tags(item.caption)})
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _fit(image: Image.Image, size: tuple[int, int], mode: str) -> Image.Image:
    if mode == "crop":
        return ImageOps.fit(image, size, Image.LANCZOS, centering=(0.5, 0.5))
    if mode == "pad":
        fitted = ImageOps.contain(image, size, Image.LANCZOS)
        canvas = Image.new("RGB", size, (255, 255, 255))
        canvas.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
        return canvas
    return image.resize(size, Image.LANCZOS)


def preprocess(root: str | Path, project: str, width: int, height: int, mode: str = "crop", flip: bool = False,
               concept: str | None = None) -> list[str]:
    """Resize every image to ``width × height`` (crop to fill, pad to fit, or stretch), optionally adding a
    mirrored copy with the same caption. Returns one line per image done or skipped."""
    if not (isinstance(width, int) and isinstance(height, int) and 64 <= width <= 4096 and 64 <= height <= 4096):
        raise ValueError(MSG_BAD_SIZE.format(width=width, height=height))
    if mode not in MODES:
        raise ValueError(MSG_BAD_MODE)
    paths = projects.project_paths(root, project)
    items = [i for i in dataset_images(root, project, concept) if not i.path.stem.endswith("-flip")]
    if not items:
        raise ValueError(MSG_NO_IMAGES.format(project=paths.name))
    report = []
    for item in items:
        backup = paths.dir / ORIGINALS_DIR / item.path.parent.name / item.path.name
        if not backup.exists():
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item.path, backup)
        try:
            with Image.open(backup) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except Exception:  # noqa: BLE001 - Pillow raises many types; its words name paths and internals
            report.append(f"{item.path.name}: skipped, it is not an image or is damaged, and cannot be read.")
            continue
        fitted = _fit(image, (width, height), mode)
        target = item.path.with_suffix(".png") if item.path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp") \
            else item.path
        fitted.save(target)
        if target != item.path:
            item.path.unlink()
        line = f"{target.name}: {image.width}×{image.height} → {width}×{height} ({mode})"
        if flip:
            mirrored = target.with_name(f"{target.stem}-flip{target.suffix}")
            ImageOps.mirror(fitted).save(mirrored)
            if item.caption:
                mirrored.with_suffix(".txt").write_text(item.caption + "\n", encoding="utf-8")
            line += ", mirrored copy added"
        report.append(line)
    return report


_SPACES = re.compile(r"\s+")


def auto_tag(host: Host, root: str | Path, project: str, method: str = "deepbooru", threshold: float = 0.5,
             mode: str = "append", progress: Callable[[int, int, str], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> list[str]:
    """Tag every image through ``host.tag_image`` under the GPU lock, writing captions by ``mode``.

    Returns one line per image. Stops between images when ``should_stop`` says so.
    """
    if mode not in TAG_MODES:
        raise ValueError(MSG_BAD_TAG_MODE)
    items = dataset_images(root, project)
    if not items:
        raise ValueError(MSG_NO_IMAGES.format(project=project))
    report = []
    with host.gpu_lock(TAG_JOB):
        for n, item in enumerate(items):
            if (should_stop and should_stop()) or host.interrupted():
                report.append("Tagging was stopped; the remaining images keep their captions.")
                break
            host.report_progress(ProgressUpdate(n, len(items), item.path.name))
            if progress:
                progress(n, len(items), item.path.name)
            if mode == "skip captioned" and item.caption:
                report.append(f"{item.path.name}: kept its caption")
                continue
            with Image.open(item.path) as opened:
                tags = [_SPACES.sub(" ", t).strip() for t in host.tag_image(opened.convert("RGB"), method, threshold)]
            tags = [t for t in tags if t]
            existing = split_tags(item.caption) if mode == "append" else []
            # Keep the concept (trigger) first when a caption is new, as kohya's keep_tokens expects.
            base = existing or ([item.concept] if item.concept.lower() not in {t.lower() for t in tags} else [])
            merged = base + [t for t in tags if t.lower() not in {e.lower() for e in base}]
            write_caption(root, project, item.path, join_tags(merged))
            report.append(f"{item.path.name}: {join_tags(tags) or '(no tags)'}")
        host.report_progress(ProgressUpdate(len(items), len(items), ""))
    if progress:
        progress(len(items), len(items), "")
    return report
