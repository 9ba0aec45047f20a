"""Pure HTML views of the Civitai tab: result cards, model details, messages.

Every function takes plain data (the Civitai core's typed objects, ids, booleans) and returns one HTML
string, so the grid is one ``gr.HTML`` update instead of one gradio component per card, and each view
is unit-tested without gradio. All remote text is escaped; descriptions go through ``sanitize_html``.
Clicks call ``window.modelWorkbench`` (javascript/model_workbench.js).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import PurePath

from model_workbench.bidi import strip_bidi
from model_workbench.civitai.compatibility import a1111_runs_base_model, webui_loads_type
from model_workbench.civitai.types import Model, ModelFile, ModelImage, ModelVersion
from model_workbench.excerpt import excerpt
from model_workbench.library.matching import newest_of
from model_workbench.library.sidecars import html_to_text
from model_workbench.ui.i18n import t, tf, tm
from model_workbench.ui.sanitize import sanitize_html

API_KEY_PAGE = "https://civitai.com/user/account"
RISKY_EXTENSIONS = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
THUMB_WIDTH = 320


def esc(value: object) -> str:
    """Text for the page: escaped, and without bidi controls (they would make a name read backwards)."""
    return html.escape(strip_bidi("" if value is None else str(value)), quote=True)


def js_arg(value: object) -> str:
    """A value as a JavaScript literal inside a double-quoted HTML attribute (text without bidi controls:
    json.dumps writes them as ``\\u202e``, which ``esc`` would not see)."""
    return esc(json.dumps(strip_bidi(value) if isinstance(value, str) else value))


def human_count(n: int | None) -> str:
    if n is None:
        return "–"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def human_size(n: float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def human_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


def message_html(text: str, kind: str = "notice") -> str:
    """A one-paragraph message box: kind is "notice", "error" or "ok". ``text`` is plain text (a core
    sentence is translated here)."""
    css = {"error": "mw-error", "ok": "mw-ok"}.get(kind, "mw-notice")
    return f"<div class='{css}'>{esc(tm(text))}</div>"


def api_key_hint(standalone: bool, create: bool = True) -> str:
    """Where to set the Civitai API key in this program (and, with ``create``, where to make one)."""
    if standalone:
        where = t("In this app they are in the Settings tab → Civitai API key; save, then try again.")
    else:
        where = t("In WebUI they are in Settings → Model Workbench → Civitai API key; Apply settings, then try again.")
    if not create:
        return where
    return tf("Create a key at {url} (API Keys section) and enter it in Model Workbench's settings.",
              url=API_KEY_PAGE) + " " + where


def with_key_hint(message: str, standalone: bool) -> str:
    """An authentication message plus where to put the key (the core's text already says where to create one)."""
    return f"{message} {api_key_hint(standalone, create=API_KEY_PAGE not in message)}"


def error_html(error: Exception, standalone: bool) -> str:
    """A Civitai error as an actionable message (the key hint added for authentication errors)."""
    text = str(error)
    if type(error).__name__ == "AuthRequiredError":
        text = with_key_hint(text, standalone)
    return message_html(text, "error")


# -- cards -------------------------------------------------------------------------------------

def pick_image(images: Iterable[ModelImage], max_level: int, *, allow_video: bool = True) -> ModelImage | None:
    """The first still image within the NSFW level, else (if allowed) the first video within it."""
    allowed = [i for i in images if i.url and i.nsfw_level <= max_level]
    still = next((i for i in allowed if not i.is_video), None)
    if still is not None or not allow_video:
        return still
    return next((i for i in allowed if i.is_video), None)


def thumb_url(image: ModelImage, width: int = THUMB_WIDTH) -> str:
    return image.sized_url(width) if re.search(r"/(?:width=\d+|original=true)/", image.url) else image.url


def media_html(image: ModelImage | None, alt: str, width: int = THUMB_WIDTH) -> str:
    if image is None:
        return f"<div class='mw-media-empty'>{esc(t('No preview within your content level'))}</div>"
    if image.is_video:
        # A muted, looping inline video (what the site shows); browsers fetch only its metadata until it plays.
        return (f"<video class='mw-media' src='{esc(image.url)}' muted loop playsinline autoplay preload='metadata' "
                f"aria-label='{esc(alt)}'></video>")
    return (f"<img class='mw-media' src='{esc(thumb_url(image, width))}' loading='lazy' decoding='async' "
            f"referrerpolicy='no-referrer' alt='{esc(alt)}'>")


def model_badges(model: Model, installed_versions: set[int], installed_models: set[int],
                 skip_restricted: bool = False) -> str:
    latest = model.versions[0] if model.versions else None
    badges = [f"<span class='mw-badge mw-badge-type'>{esc(model.type)}</span>"]
    if latest and latest.base_model:
        badges.append(f"<span class='mw-badge mw-badge-base'>{esc(latest.base_model)}</span>")
    if model.id in installed_models:
        # The Library's rule (published only; Early Access and paid left out with the setting), on the same data.
        newest = newest_of([v.raw or {"id": v.id, "availability": v.availability} for v in model.versions],
                           skip_restricted)
        if newest is not None and newest[0] not in installed_versions:
            badges.append(f"<span class='mw-badge mw-badge-update'>{esc(t('Update available'))}</span>")
        else:
            badges.append(f"<span class='mw-badge mw-badge-installed'>{esc(t('Installed'))}</span>")
    if model.is_archived:
        badges.append(f"<span class='mw-badge mw-badge-warn'>{esc(t('Archived'))}</span>")
    if latest is not None and _early_access(latest):
        badges.append(f"<span class='mw-badge mw-badge-warn'>{esc(t('Early access'))}</span>")
    return "".join(badges)


def card_html(model: Model, *, max_level: int, installed_versions: set[int], installed_models: set[int],
              skip_restricted: bool = False) -> str:
    images = [i for v in model.versions[:1] for i in v.images] or [i for v in model.versions for i in v.images]
    image = pick_image(images, max_level)
    creator = model.creator.username if model.creator else ""
    stats = f"⬇ {human_count(model.download_count)} · ♥ {human_count(model.thumbs_up)}"
    by = f"<span class='mw-card-creator'>{esc(creator)}</span>" if creator else ""
    return (
        f"<div class='mw-card' role='button' tabindex='0' data-model-id='{model.id}' title='{esc(model.name)}' "
        f"onclick='modelWorkbench.openModel({model.id})' "
        f"onkeydown='if(event.key===\"Enter\")modelWorkbench.openModel({model.id})'>"
        f"<div class='mw-card-media'>{media_html(image, model.name)}"
        f"<div class='mw-card-badges'>{model_badges(model, installed_versions, installed_models, skip_restricted)}</div></div>"
        f"<div class='mw-card-body'><div class='mw-card-title'>{esc(model.name)}</div>"
        f"<div class='mw-card-meta'>{by}<span>{esc(stats)}</span></div></div></div>"
    )


def cards_html(models: list[Model], *, max_level: int = 2, installed_versions: Iterable[int] = (),
               installed_models: Iterable[int] = (), skip_restricted: bool = False) -> str:
    """The result grid: one card per model, in one HTML string (``skip_restricted``: the update badge
    leaves out Early Access and paid versions, as the Library's does with that setting)."""
    if not models:
        return (f"<div class='mw-empty'>{esc(t('No models found.'))} "
                f"{esc(t('Try other words, fewer filters or a higher content level.'))}</div>")
    versions, owned = set(installed_versions), set(installed_models)
    cards = "".join(card_html(m, max_level=max_level, installed_versions=versions, installed_models=owned,
                              skip_restricted=skip_restricted)
                    for m in models)
    return f"<div class='mw-cards'>{cards}</div>"


def page_label(page_number: int, shown: int, hidden_installed: int = 0) -> str:
    if shown == 1:
        text = tf("Page {page} · 1 model", page=page_number)
    else:
        text = tf("Page {page} · {count} models", page=page_number, count=shown)
    if hidden_installed:
        text += " · " + tf("{count} installed hidden", count=hidden_installed)
    return f"<div class='mw-page-label'>{esc(text)}</div>"


# -- details -----------------------------------------------------------------------------------

def _early_access(version: ModelVersion) -> datetime | None:
    ends = version.early_access_ends_at
    if ends is None:
        return None
    now = datetime.now(timezone.utc)
    ends_utc = ends if ends.tzinfo else ends.replace(tzinfo=timezone.utc)
    return ends if ends_utc > now else None


def preferred_weight(version: ModelVersion) -> float:
    """The creator's recommended LoRA strength when Civitai gives one, else WebUI's default 1."""
    settings = version.raw.get("settings") if isinstance(version.raw.get("settings"), dict) else {}
    try:
        weight = float(settings.get("strength"))
    except (TypeError, ValueError):
        return 1.0
    return weight if 0 < weight <= 5 else 1.0


def prompt_tag(model_type: str, filename: str, weight: float) -> str | None:
    """What WebUI's prompt needs to use a model of this type, or None (checkpoints, VAEs...)."""
    stem = strip_bidi(PurePath(filename).stem) if filename else ""  # as the file will be named on disk
    kind = re.sub(r"[^a-z]", "", (model_type or "").lower())
    if not stem:
        return None
    if kind in ("lora", "locon", "dora", "lycoris"):
        return f"<lora:{stem}:{weight:g}>"
    if kind == "hypernetwork":
        return f"<hypernet:{stem}:{weight:g}>"
    if kind == "textualinversion":
        return stem
    return None


def notices_html(model: Model, version: ModelVersion | None, standalone: bool) -> str:
    out = []
    if model.is_taken_down:
        out.append(message_html(t("This model was taken down on Civitai: it cannot be downloaded and its images "
                                  "are gone."), "error"))
    elif model.is_archived:
        out.append(message_html(t("This model is archived on Civitai: its files can no longer be downloaded."),
                                "error"))
    if version is not None:
        ends = _early_access(version)
        if ends is not None:
            out.append(message_html(tf("This version is in Early Access until {date}. Buy access on Civitai, or "
                                       "download it after that date.", date=ends.strftime("%Y-%m-%d %H:%M UTC")),
                                    "notice"))
        elif (version.availability or "").lower() == "earlyaccess":
            out.append(message_html(t("This version is in Early Access on Civitai. Buy access there, or try again "
                                      "later."), "notice"))
        if version.usage_control and version.usage_control != "Download":
            out.append(message_html(t("The creator allows this version only for generation on Civitai: it cannot be "
                                      "downloaded."), "error"))
    out.append(compatibility_html(model, version))
    return "".join(out)


def compatibility_html(model: Model, version: ModelVersion | None) -> str:
    """What WebUI cannot use, said before the download: a type it never loads, a base model A1111 cannot run."""
    out = []
    if not webui_loads_type(model.type):
        out.append(message_html(tf("WebUI does not load {type} files: this one would only be saved, into a folder "
                                   "no part of WebUI reads. Use it with the program or extension it was made for.",
                                   type=model.type), "notice"))
    if version is not None and not a1111_runs_base_model(version.base_model):
        out.append(message_html(tf("{base} models do not run in AUTOMATIC1111 WebUI, which loads SD 1.x, SD 2.x, "
                                   "SDXL (Pony, Illustrious…) and SD 3 models. Forge or ComfyUI can use some of them.",
                                   base=version.base_model), "notice"))
    return "".join(out)


def versions_html(model: Model, selected: ModelVersion, installed_versions: set[int]) -> str:
    buttons = []
    for v in model.versions:
        label = esc(v.name or str(v.id))
        mark = " ✓" if v.id in installed_versions else ""
        active = " mw-active" if v.id == selected.id else ""
        buttons.append(f"<button class='mw-chip{active}' data-version-id='{v.id}' "
                       f"onclick='modelWorkbench.openModel({model.id},{v.id})'>{label}{esc(mark)}</button>")
    return f"<div class='mw-versions'><span class='mw-label'>{esc(t('Versions'))}</span>{''.join(buttons)}</div>"


def _scan_badge(result: str | None) -> str:
    value = result or "Pending"
    css = {"Success": "mw-badge-installed", "Danger": "mw-badge-danger", "Error": "mw-badge-warn"}.get(value, "")
    return f"<span class='mw-badge {css}'>{esc(value)}</span>"


def file_is_risky(file: ModelFile) -> bool:
    return file.name.lower().endswith(RISKY_EXTENSIONS) or (file.format or "").lower() == "pickletensor"


def files_html(version: ModelVersion) -> str:
    if not version.files:
        return message_html(t("This version has no files to download."), "notice")
    rows = []
    warnings = []
    for f in version.files:
        fmt = " ".join(x for x in (f.format, f.fp, f.size_variant) if x) or "–"
        primary = f" <span class='mw-badge'>{esc(t('Primary'))}</span>" if f.primary else ""
        scans = (f"<span title='{esc(t('Pickle scan'))}'>{_scan_badge(f.pickle_scan)}</span>"
                 f"<span title='{esc(t('Virus scan'))}'>{_scan_badge(f.virus_scan)}</span>")
        rows.append(f"<tr><td>{esc(f.name)}{primary}<div class='mw-muted mw-small'>{esc(f.type)}</div></td>"
                    f"<td>{esc(human_size(f.approx_size_bytes))}</td><td>{esc(fmt)}</td><td>{scans}</td></tr>")
        if file_is_risky(f) or "Danger" in (f.pickle_scan, f.virus_scan):
            warnings.append(f.name)
    head = "".join(f"<th>{esc(h)}</th>" for h in (t("File"), t("Size"), t("Format"), t("Pickle / virus scan")))
    warn = ""
    if warnings:
        names = ", ".join(sorted(set(warnings)))
        warn = message_html(tf("Careful with {names}: .ckpt/.pt (pickle) files can run code on your computer when "
                               "loaded. Prefer a .safetensors file, and only load pickles from creators you trust.",
                               names=names), "error")
    return f"{warn}<div class='mw-scroll'><table class='mw-table mw-files'><tr>{head}</tr>{''.join(rows)}</table></div>"


def words_html(model: Model, version: ModelVersion, can_send: bool) -> str:
    parts = []
    if version.trained_words:
        chips = []
        for word in version.trained_words:
            chips.append(f"<span class='mw-word'><code>{esc(word)}</code>"
                         f"<button class='mw-icon-button' title='{esc(t('Copy'))}' "
                         f"onclick='modelWorkbench.copyText({js_arg(word)})'>{esc(t('Copy'))}</button></span>")
        all_words = ", ".join(version.trained_words)
        send = (f"<button class='mw-small-button' onclick='modelWorkbench.sendToPrompt({js_arg(all_words)})'>"
                f"{esc(t('Send trigger words to prompt'))}</button>") if can_send else ""
        parts.append(f"<div class='mw-words'><span class='mw-label'>{esc(t('Trigger words'))}</span>{''.join(chips)}"
                     f"{send}</div>")
    primary = version.primary_file
    tag = prompt_tag(model.type, primary.name if primary else "", preferred_weight(version))
    if tag:
        text = tag + (", " + ", ".join(version.trained_words) if version.trained_words and tag.startswith("<") else "")
        action = (f"<button class='mw-small-button' onclick='modelWorkbench.sendToPrompt({js_arg(text)})'>"
                  f"{esc(t('Send to prompt'))}</button>") if can_send else ""
        parts.append(f"<div class='mw-words'><span class='mw-label'>{esc(t('Prompt tag'))}</span><code>{esc(tag)}</code>"
                     f"<button class='mw-icon-button' title='{esc(t('Copy'))}' "
                     f"onclick='modelWorkbench.copyText({js_arg(tag)})'>{esc(t('Copy'))}</button>{action}</div>")
    if not can_send and parts:
        parts.append(f"<div class='mw-muted mw-hint'>{esc(t('Sending to the txt2img prompt needs WebUI; copy the text here instead.'))}</div>")
    return "".join(parts)


def meta_labels() -> tuple[tuple[str, str], ...]:
    """The generation parameters shown under an example image, with their (translated) labels."""
    return (("steps", t("Steps")), ("sampler", t("Sampler")), ("cfgScale", t("CFG scale")), ("seed", t("Seed")),
            ("Size", t("Size")), ("clipSkip", t("Clip skip")))


def infotext(meta: dict) -> str:
    """An example image's parameters as WebUI's infotext (what its "paste" button reads)."""
    lines = [str(meta.get("prompt") or "").strip()]
    if meta.get("negativePrompt"):
        lines.append(f"Negative prompt: {str(meta['negativePrompt']).strip()}")
    params = []
    for key, label in (("steps", "Steps"), ("sampler", "Sampler"), ("cfgScale", "CFG scale"), ("seed", "Seed"),
                       ("Size", "Size"), ("clipSkip", "Clip skip"), ("Model hash", "Model hash"), ("Model", "Model"),
                       ("Denoising strength", "Denoising strength"), ("Hires upscale", "Hires upscale"),
                       ("Hires upscaler", "Hires upscaler")):
        value = meta.get(key)
        if value not in (None, ""):
            params.append(f"{label}: {str(value).replace(',', ' ')}")
    if params:
        lines.append(", ".join(params))
    return "\n".join(line for line in lines if line)


def example_html(image: ModelImage, can_send: bool) -> str:
    meta = image.meta or {}
    rows = []
    if meta.get("prompt"):
        rows.append(f"<div class='mw-prompt'>{esc(meta['prompt'])}</div>")
    facts = [f"<span><b>{esc(label)}</b> {esc(meta[key])}</span>" for key, label in meta_labels()
             if meta.get(key) not in (None, "")]
    if meta.get("negativePrompt"):
        rows.append(f"<div class='mw-prompt mw-muted'><b>{esc(t('Negative prompt'))}</b> {esc(meta['negativePrompt'])}</div>")
    if facts:
        rows.append(f"<div class='mw-facts'>{''.join(facts)}</div>")
    buttons = ""
    if meta.get("prompt"):
        text = infotext(meta)
        send = (f"<button class='mw-small-button' onclick='modelWorkbench.sendParams({js_arg(text)})'>"
                f"{esc(t('Send to txt2img'))}</button>") if can_send else ""
        buttons = (f"<div class='mw-example-actions'>{send}<button class='mw-small-button' "
                   f"onclick='modelWorkbench.copyText({js_arg(text)})'>{esc(t('Copy parameters'))}</button></div>")
    else:
        rows.append(f"<div class='mw-muted'>{esc(t('No generation parameters for this image.'))}</div>")
    return (f"<div class='mw-example'><div class='mw-example-media'>{media_html(image, 'example', 450)}</div>"
            f"<div class='mw-example-text'>{''.join(rows)}{buttons}</div></div>")


def license_html(model: Model) -> str:
    uses = model.allow_commercial_use
    commercial = ", ".join(uses) if uses and uses != ["None"] else t("not allowed")
    items = [
        (t("Commercial use"), commercial),
        (t("Credit required"), t("no") if model.allow_no_credit else t("yes")),
        (t("Derivatives allowed"), t("yes") if model.allow_derivatives else t("no")),
        (t("Different license allowed"), t("yes") if model.allow_different_license else t("no")),
    ]
    cells = "".join(f"<span><b>{esc(k)}</b> {esc(v)}</span>" for k, v in items)
    return f"<div class='mw-facts mw-license'>{cells}</div>"


# A description longer than this (as text) shows its beginning, the rest folded in a <details>; the page
# gets at most DESCRIPTION_PAGE_CHARS of it (Civitai descriptions reach megabytes).
DESCRIPTION_FOLD_CHARS = 1500
DESCRIPTION_INTRO_CHARS = 600
DESCRIPTION_PAGE_CHARS = 200_000


def description_html(remote_html: str | None, page_url: str) -> str:
    """A model or version description, sanitised; a long one collapsed below its first sentences."""
    safe = sanitize_html(remote_html)
    if not safe:
        return ""
    text = " ".join(html_to_text(safe).split())  # the sidecar's own reading of description HTML
    if len(text) <= DESCRIPTION_FOLD_CHARS:
        return f"<div class='mw-description'>{safe}</div>"
    intro, _ = excerpt(text, DESCRIPTION_INTRO_CHARS)
    if len(safe) > DESCRIPTION_PAGE_CHARS:  # too big for the page: its plain text, cut, and where to read it all
        body, _ = excerpt(text, DESCRIPTION_PAGE_CHARS // 2)
        safe = f"<p>{esc(body)}…</p>"
    link = (f"<a class='mw-link-button' href='{esc(page_url)}' target='_blank' rel='noopener noreferrer'>"
            f"{esc(t('Read it on Civitai'))} ↗</a>")
    return (f"<div class='mw-description mw-description-intro'>{esc(intro)}…</div>"
            f"<details class='mw-description-more'><summary>{esc(t('Show the full description'))}</summary>"
            f"<div class='mw-description'>{safe}</div>{link}</details>")


def details_parts(model: Model, version: ModelVersion | None, examples: list[ModelImage], *, site_url: str,
                  installed_versions: Iterable[int] = (), can_send: bool = False,
                  standalone: bool = False) -> tuple[str, str]:
    """The details of one model at one version, in two parts: what to decide a download on (name,
    notices, versions, trigger words, files) and what to read after it (license, examples, description).
    The tab puts the download controls between them."""
    installed = set(installed_versions)
    creator = model.creator.username if model.creator else ""
    url = f"{site_url.rstrip('/')}/models/{model.id}" + (f"?modelVersionId={version.id}" if version else "")
    head = (f"<div class='mw-details-head'><div><h2 class='mw-details-title'>{esc(model.name)}</h2>"
            f"<div class='mw-card-meta'>{esc(model.type)}"
            + (f" · {esc(tf('by {name}', name=creator))}" if creator else "")
            + f" · ⬇ {esc(human_count(model.download_count))} · ♥ {esc(human_count(model.thumbs_up))}</div></div>"
            f"<a class='mw-link-button' href='{esc(url)}' target='_blank' rel='noopener noreferrer'>"
            f"{esc(t('Open on Civitai'))} ↗</a></div>")
    parts = [head, notices_html(model, version, standalone)]
    if version is None:
        parts.append(message_html(t("Civitai lists no published version of this model."), "notice"))
        return f"<div class='mw-details'>{''.join(parts)}</div>", ""
    parts.append(versions_html(model, version, installed))
    facts = [(t("Base model"), version.base_model or "–"),
             (t("Published"), version.published_at.strftime("%Y-%m-%d") if version.published_at else "–"),
             (t("Downloads"), human_count(version.download_count))]
    if version.id in installed:
        facts.append((t("Status"), t("Installed")))
    parts.append("<div class='mw-facts'>" + "".join(f"<span><b>{esc(k)}</b> {esc(v)}</span>" for k, v in facts) + "</div>")
    parts.append(words_html(model, version, can_send))
    parts.append(files_html(version))
    more = [f"<h3>{esc(t('License'))}</h3>{license_html(model)}"]
    if examples:
        examples = sorted(examples, key=lambda i: not (i.meta or {}).get("prompt"))  # ones with a prompt first
        more.append(f"<h3>{esc(t('Example images'))}</h3><div class='mw-examples'>"
                    + "".join(example_html(i, can_send) for i in examples) + "</div>")
    version_notes = description_html(version.description, url)
    if version_notes:
        more.append(f"<h3>{esc(t('About this version'))}</h3>{version_notes}")
    description = description_html(model.description, url)
    if description:
        more.append(f"<h3>{esc(t('Description'))}</h3>{description}")
    return f"<div class='mw-details'>{''.join(parts)}</div>", f"<div class='mw-details'>{''.join(more)}</div>"


def details_html(model: Model, version: ModelVersion | None, examples: list[ModelImage], **kwargs: object) -> str:
    """Both parts of :func:`details_parts` as one panel."""
    return "".join(details_parts(model, version, examples, **kwargs))  # type: ignore[arg-type]


def details_placeholder() -> str:
    text = t("Click a model to see its versions, files, trigger words and example images.")
    return f"<div class='mw-details mw-details-empty'>{esc(text)}</div>"
