"""Files written beside an installed model so WebUI's cards and other tools know it.

- ``<name>.preview.png``: the first *image* (never a video) within the allowed NSFW level, converted to PNG;
- ``<name>.json``: WebUI's user metadata (description, activation text, preferred weight, sd version, notes),
  written with ``indent=4, ensure_ascii=False`` as WebUI itself does;
- ``<name>.civitai.info``: the version JSON, as Civitai Helper writes it (plus the parent model's fields).

Existing files are never overwritten: each file is created exclusively, and a preview is skipped when
the user already has any preview WebUI would show.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from model_workbench.civitai.coerce import NSFW_PG13
from model_workbench.civitai.types import Model, ModelImage, ModelVersion
from model_workbench.excerpt import excerpt

# What WebUI's find_preview() looks for (png/jpg/jpeg/webp/gif, as <name>.<ext> and <name>.preview.<ext>).
PREVIEW_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif")

FetchFn = Callable[[str], "tuple[bytes, str]"]

# User-facing sentences (kept together for the UI's localisation).
PREVIEW_FETCH_FAILED = "Could not download the preview image: {reason}"
NO_ALLOWED_IMAGE = ("No preview image was written: Civitai has no still image within the allowed content level "
                    "for this version.")
NO_READABLE_IMAGE = "No preview image was written: none of the example images could be read."  # url → (bytes, content type); CivitaiClient.fetch_bytes fits
READ_MORE = "The full text is on the model page: {url}"

# WebUI embeds the .json sidecar in every Extra Networks card of the page: a few KB of text at most.
DESCRIPTION_CHARS = 2000
NOTES_CHARS = 1000


@dataclass
class SidecarReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # user-facing sentences


def sd_version(base_model: str | None) -> str:
    """WebUI's ``sd version`` value from Civitai's base model name (SDXL-based families count as SDXL)."""
    b = (base_model or "").lower()
    if re.search(r"\bsd ?1(\.\d)?", b):
        return "SD1"
    if re.search(r"\bsd ?2(\.\d)?", b):
        return "SD2"
    if "sdxl" in b or any(name in b for name in ("pony", "illustrious", "noobai", "playground")):
        return "SDXL"
    return "Unknown"


def html_to_text(text: str | None) -> str:
    """Model descriptions are HTML: keep paragraphs and list items as lines, drop every tag."""
    if not text:
        return ""
    t = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", text)
    t = re.sub(r"(?i)<br\s*/?>", "\n", t)
    t = re.sub(r"(?i)</(p|div|h[1-6]|li|tr)>", "\n", t)
    t = re.sub(r"(?i)<li\b[^>]*>", "- ", t)
    t = re.sub(r"<[^>]+>", "", t)
    t = html.unescape(t)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in t.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def pick_preview_image(images: Iterable[ModelImage], max_nsfw_level: int = NSFW_PG13) -> ModelImage | None:
    """The first still image at or below ``max_nsfw_level`` (1 PG, 2 PG13, 4 R, 8 X, 16 XXX)."""
    for image in images:
        if not image.is_video and image.url and image.nsfw_level <= max_nsfw_level:
            return image
    return None


def model_page_url(version: ModelVersion, site: str = "https://civitai.com") -> str:
    return f"{site}/models/{version.model_id}?modelVersionId={version.id}" if version.model_id else site


def user_metadata(version: ModelVersion, model: Model | None = None, *, preferred_weight: float = 0.0,
                  site: str = "https://civitai.com") -> dict:
    """WebUI's ``<name>.json`` (keys as extensions-builtin/Lora/ui_edit_user_metadata.py writes them)."""
    url = model_page_url(version, site)
    notes = [f"Civitai: {url}"]
    version_text = html_to_text(version.description)
    if version_text:
        notes.append(_short(version_text, NOTES_CHARS, url))
    return webui_user_metadata(html_to_text(model.description if model else None) or version_text, url,
                               sd_version=sd_version(version.base_model), activation_text=version.trained_words,
                               notes=notes, preferred_weight=preferred_weight)


def webui_user_metadata(description: str, url: str, *, sd_version: str, activation_text: Iterable[str],
                        notes: list[str], preferred_weight: float = 0.0) -> dict:
    """The ``<name>.json`` of any source: a description cut to what a card can carry, with a link to the rest."""
    return {
        "description": _short(description, DESCRIPTION_CHARS, url),
        "sd version": sd_version,
        "activation text": ", ".join(activation_text),
        "preferred weight": float(preferred_weight),
        "negative text": "",
        "notes": "\n\n".join(notes),
    }


def _short(text: str, max_chars: int, url: str) -> str:
    cut, was_cut = excerpt(text, max_chars)
    return f"{cut}…\n\n{READ_MORE.format(url=url)}" if was_cut else cut


def civitai_info(version: ModelVersion, model: Model | None = None) -> dict:
    """Civitai Helper's ``.civitai.info``: the version JSON, plus the parent model's description, tags and licence."""
    info = dict(version.raw)
    if "trainedWords" in info:
        info["trainedWords"] = list(version.trained_words)  # the cleaned words (no bidi controls), as in the .json
    if model is not None:
        parent = dict(info.get("model") or {})
        parent.setdefault("name", model.name)
        parent.setdefault("type", model.type)
        parent.update({
            "description": model.description, "tags": list(model.tags), "allowNoCredit": model.allow_no_credit,
            "allowCommercialUse": list(model.allow_commercial_use), "allowDerivatives": model.allow_derivatives,
            "allowDifferentLicense": model.allow_different_license,
        })
        info["model"] = parent
        if model.creator is not None:
            info["creator"] = {"username": model.creator.username, "image": model.creator.image}
    return info


def _stem(model_path: Path) -> Path:
    return model_path.with_suffix("")


def _create_exclusive(path: Path, data: bytes, report: SidecarReport) -> None:
    try:
        with open(path, "xb") as fh:  # "x": fails rather than overwrite a file the user has
            fh.write(data)
    except FileExistsError:
        report.skipped.append(path)
        return
    report.written.append(path)


def write_json_sidecar(model_path: Path, suffix: str, data: dict, report: SidecarReport) -> None:
    """``<stem><suffix>`` as WebUI writes its JSON (``indent=4``, UTF-8 as it is); never over an existing file."""
    stem = _stem(model_path)
    text = json.dumps(data, indent=4, ensure_ascii=False)
    _create_exclusive(stem.with_name(stem.name + suffix), text.encode("utf-8"), report)


def write_preview_png(model_path: Path, png: bytes, report: SidecarReport) -> None:
    """``<stem>.preview.png``, unless the model already has any preview WebUI would show."""
    present = existing_preview(model_path)
    if present is not None:
        report.skipped.append(present)
        return
    stem = _stem(model_path)
    _create_exclusive(stem.with_name(stem.name + ".preview.png"), png, report)


def existing_preview(model_path: Path) -> Path | None:
    stem = _stem(model_path)
    for ext in PREVIEW_EXTENSIONS:
        for candidate in (stem.with_name(f"{stem.name}.{ext}"), stem.with_name(f"{stem.name}.preview.{ext}")):
            if candidate.exists():
                return candidate
    return None


def to_png(data: bytes) -> bytes:
    """Any still image Pillow reads → PNG bytes (raises ``ValueError`` for anything else, e.g. a video)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # an animated image: its first frame
            frame = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
            out = io.BytesIO()
            frame.save(out, "PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("not a still image") from exc


def write_preview(model_path: Path, images: Iterable[ModelImage], fetch: FetchFn, *,
                  max_nsfw_level: int = NSFW_PG13, report: SidecarReport | None = None) -> SidecarReport:
    report = report or SidecarReport()
    if existing_preview(model_path) is not None:
        report.skipped.append(existing_preview(model_path))  # type: ignore[arg-type]
        return report
    candidates = [i for i in images if not i.is_video and i.nsfw_level <= max_nsfw_level and i.url]
    for image in candidates:
        try:
            data, content_type = fetch(image.url)
            if content_type.lower().startswith(("video/", "audio/")):
                continue  # Civitai has served videos under .jpeg names: never save one as a preview
            png = to_png(data)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001 - a preview is optional; the reason is reported
            report.problems.append(PREVIEW_FETCH_FAILED.format(reason=exc))
            return report
        write_preview_png(model_path, png, report)
        return report
    if not candidates:
        report.problems.append(NO_ALLOWED_IMAGE)
    else:
        report.problems.append(NO_READABLE_IMAGE)
    return report


def write_sidecars(model_path: str | Path, version: ModelVersion, model: Model | None = None, *,
                   fetch: FetchFn | None = None, max_nsfw_level: int = NSFW_PG13, preferred_weight: float = 0.0,
                   preview: bool = True, metadata: bool = True, info: bool = True,
                   site: str = "https://civitai.com") -> SidecarReport:
    """Write the three sidecars beside ``model_path``; existing files are left as they are."""
    path = Path(model_path)
    report = SidecarReport()
    if metadata:
        write_json_sidecar(path, ".json", user_metadata(version, model, preferred_weight=preferred_weight, site=site),
                           report)
    if info:
        write_json_sidecar(path, ".civitai.info", civitai_info(version, model), report)
    if preview and fetch is not None:
        write_preview(path, version.images, fetch, max_nsfw_level=max_nsfw_level, report=report)
    return report
