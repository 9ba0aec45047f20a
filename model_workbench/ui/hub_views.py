"""Pure HTML views of the Hugging Face sub-tab: result cards, a repo's details, its files and their kinds.

The same look as the Civitai views (``mw-card``, ``mw-facts``, ``mw-table``), the same escaping and the
same sanitiser for the model card. Every function takes the Hub package's typed objects and returns one
HTML string; clicks call ``window.modelWorkbench`` (javascript/model_workbench.js).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from model_workbench.huggingface.types import (
    FileKind,
    HubFile,
    HubModel,
    HubRepoDetails,
    repo_url,
    resolve_url,
)
from model_workbench.ui.civitai_views import esc, human_count, human_size, js_arg, message_html
from model_workbench.ui.i18n import t, tf, tm
from model_workbench.ui.markdown_view import card_html

MODEL_FILE_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin")
FAMILY_LABELS = {"sd1": "SD1", "sd2": "SD2", "sdxl": "SDXL", "sd3": "SD3", "flux": "Flux", "pony": "Pony"}
# Tags the Hub adds for its own filters: not what a person reads as a repo's tags.
_MACHINE_TAG_PREFIXES = ("base_model:", "license:", "region:", "endpoints_compatible", "autotrain_compatible",
                         "diffusers:", "dataset:", "arxiv:", "doi:")


def kind_name(kind: str) -> str:
    """A file kind ("lora", "checkpoint" …, as ``FileKind.kind`` and the install dropdown have them)."""
    return {"checkpoint": t("Checkpoint"), "lora": t("LoRA"), "embedding": t("Embedding"), "vae": t("VAE"),
            "controlnet": t("ControlNet"), "hypernetwork": t("Hypernetwork")}.get(kind, kind)


def file_kind_label(kind: FileKind | None) -> str:
    """What a file is, in a few words: "LoRA · SDXL", "Checkpoint · SD1", "diffusers folder: …"."""
    if kind is None:
        return "–"
    if kind.format == "diffusers" and not kind.kind:
        return t("diffusers folder: not a single file WebUI can load")
    if not kind.kind:
        return t("Unknown")
    family = FAMILY_LABELS.get(kind.family, kind.family.upper())
    return f"{kind_name(kind.kind)} · {family}" if family else kind_name(kind.kind)


def _kind_notes(kind: FileKind | None) -> list[str]:
    if kind is None:
        return []
    return [tm(text) for text in (kind.reason, getattr(kind, "note", None)) if text]


def is_model_file(path: str) -> bool:
    return path.lower().endswith(MODEL_FILE_SUFFIXES)


def short_sha(sha256: str | None) -> str:
    return sha256[:10] if sha256 else "–"


def date_of(iso: str) -> str:
    return (iso or "")[:10] or "–"


# -- cards ---------------------------------------------------------------------------------------------

def repo_kind(model: HubModel) -> str:
    """The card's type badge from the Hub's tags: LoRA where tagged so, else the pipeline."""
    tags = {tag.lower() for tag in model.tags}
    if "lora" in tags:
        return t("LoRA")
    if model.pipeline_tag == "text-to-image":
        return t("Text-to-image")
    return model.pipeline_tag or ""


def access_badges(model: HubModel) -> str:
    badges = []
    if model.gated:
        badges.append(f"<span class='mw-badge mw-badge-warn' title='{esc(t('Accept the license on the model page to download'))}'>"
                      f"{esc(t('Gated'))}</span>")
    if model.private:
        badges.append(f"<span class='mw-badge mw-badge-danger'>{esc(t('Private'))}</span>")
    return "".join(badges)


def _open_js(repo_id: str) -> str:
    return f"modelWorkbench.openHubRepo({js_arg(repo_id)})"


def hub_card_html(model: HubModel, preview_url: str | None = None) -> str:
    name = model.repo_id.split("/", 1)[-1]
    media = (f"<img class='mw-media' src='{esc(preview_url)}' loading='lazy' decoding='async' "
             f"referrerpolicy='no-referrer' alt='{esc(name)}'>" if preview_url
             else f"<div class='mw-media-empty'>{esc(t('No preview image in this repo'))}</div>")
    kind = repo_kind(model)
    badges = (f"<span class='mw-badge mw-badge-type'>{esc(kind)}</span>" if kind else "") + access_badges(model)
    stats = f"⬇ {human_count(model.downloads)} · ♥ {human_count(model.likes)}"
    return (
        f"<div class='mw-card mw-hub-card' role='button' tabindex='0' data-repo-id='{esc(model.repo_id)}' "
        f"title='{esc(model.repo_id)}' onclick='{_open_js(model.repo_id)}' "
        f"onkeydown='if(event.key===\"Enter\"){_open_js(model.repo_id)}'>"
        f"<div class='mw-card-media'>{media}<div class='mw-card-badges'>{badges}</div></div>"
        f"<div class='mw-card-body'><div class='mw-card-title'>{esc(name)}</div>"
        f"<div class='mw-card-meta'><span class='mw-card-creator'>{esc(model.author)}</span><span>{esc(stats)}</span>"
        f"<span title='{esc(t('Last modified'))}'>{esc(date_of(model.last_modified))}</span></div></div></div>"
    )


def hub_cards_html(models: Sequence[HubModel], previews: Mapping[str, str] | None = None) -> str:
    """The result grid; ``previews`` maps a repo to its preview image's URL (where it has one)."""
    if not models:
        return (f"<div class='mw-empty'>{esc(t('No models found.'))} "
                f"{esc(t('Try other words or another kind.'))}</div>")
    previews = previews or {}
    return f"<div class='mw-cards mw-hub-cards'>{''.join(hub_card_html(m, previews.get(m.repo_id)) for m in models)}</div>"


def results_label(count: int, more: bool) -> str:
    text = t("1 model") if count == 1 else tf("{count} models", count=count)
    if more:
        text += " · " + t("more on the next page")
    return f"<div class='mw-page-label'>{esc(text)}</div>"


# -- details -------------------------------------------------------------------------------------------

def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v).strip()]
    return []


def readable_tags(details: HubRepoDetails) -> list[str]:
    tags = _as_list(details.card_data.get("tags")) or list(details.model.tags)
    return [tag for tag in dict.fromkeys(tags) if not tag.lower().startswith(_MACHINE_TAG_PREFIXES)]


def card_facts_html(details: HubRepoDetails) -> str:
    data = details.card_data
    facts = [(t("Base model"), ", ".join(_as_list(data.get("base_model"))) or "–"),
             (t("License"), ", ".join(_as_list(data.get("license_name") or data.get("license"))) or "–"),
             (t("Last modified"), date_of(details.model.last_modified)),
             (t("Revision"), details.revision[:10] if details.revision else "–")]
    cells = "".join(f"<span><b>{esc(k)}</b> {esc(v)}</span>" for k, v in facts)
    tags = readable_tags(details)
    tag_row = ("<div class='mw-hub-tags'>" + "".join(f"<span class='mw-chip'>{esc(tag)}</span>" for tag in tags[:24])
               + "</div>") if tags else ""
    return f"<div class='mw-facts'>{cells}</div>{tag_row}"


def trigger_words_html(words: Sequence[str], can_send: bool) -> str:
    if not words:
        return ""
    chips = "".join(f"<span class='mw-word'><code>{esc(w)}</code><button class='mw-icon-button' "
                    f"title='{esc(t('Copy'))}' onclick='modelWorkbench.copyText({js_arg(w)})'>{esc(t('Copy'))}</button>"
                    f"</span>" for w in words)
    send = (f"<button class='mw-small-button' onclick='modelWorkbench.sendToPrompt({js_arg(', '.join(words))})'>"
            f"{esc(t('Send trigger words to prompt'))}</button>") if can_send else ""
    return f"<div class='mw-words'><span class='mw-label'>{esc(t('Trigger words'))}</span>{chips}{send}</div>"


def files_table_html(files: Sequence[HubFile], kinds: Mapping[str, FileKind]) -> str:
    """The model files with size, LFS SHA256 and kind (read from the header); the other files folded away."""
    model_files = [f for f in files if is_model_file(f.path)]
    others = [f for f in files if not is_model_file(f.path)]
    if not model_files:
        table = message_html(t("This repo has no model files (.safetensors, .ckpt …)."), "notice")
    else:
        head = "".join(f"<th>{esc(h)}</th>" for h in (t("File"), t("Size"), t("SHA256"), t("Kind")))
        rows = []
        for f in model_files:
            kind = kinds.get(f.path)
            notes = "".join(f"<div class='mw-muted mw-small'>{esc(n)}</div>" for n in _kind_notes(kind))
            css = " class='mw-hub-unloadable'" if kind is not None and not kind.loadable else ""
            rows.append(f"<tr data-path='{esc(f.path)}'{css}><td>{esc(f.path)}</td><td>{esc(human_size(f.size))}</td>"
                        f"<td><code title='{esc(f.sha256 or '')}'>{esc(short_sha(f.sha256))}</code></td>"
                        f"<td class='mw-hub-kind'>{esc(file_kind_label(kind))}{notes}</td></tr>")
        table = f"<div class='mw-scroll'><table class='mw-table mw-files mw-hub-files'><tr>{head}</tr>{''.join(rows)}</table></div>"
    if others:
        items = "".join(f"<li>{esc(f.path)} <span class='mw-muted'>{esc(human_size(f.size))}</span></li>" for f in others)
        table += (f"<details class='mw-hub-other-files'><summary>{esc(tf('Other files ({count})', count=len(others)))}"
                  f"</summary><ul>{items}</ul></details>")
    return table


def hub_details_parts(details: HubRepoDetails, kinds: Mapping[str, FileKind], *, endpoint: str,
                      can_send: bool = False) -> tuple[str, str]:
    """(what to decide an install on: head, card data, trigger words, files; the rendered model card)."""
    model = details.model
    page = repo_url(endpoint, model.repo_id)
    stats = f"⬇ {human_count(model.downloads)} · ♥ {human_count(model.likes)}"
    head = (f"<div class='mw-details-head'><div><h2 class='mw-details-title'>{esc(model.repo_id)}</h2>"
            f"<div class='mw-card-meta'>{esc(tf('by {name}', name=model.author))} · {esc(stats)} {access_badges(model)}"
            f"</div></div><a class='mw-link-button' href='{esc(page)}' target='_blank' rel='noopener noreferrer'>"
            f"{esc(t('Open on Hugging Face'))} ↗</a></div>")
    parts = [head]
    if model.gated:
        parts.append(message_html(t("This repo is gated: accept the license on the model page while logged in, then "
                                    "set a token in Settings to download its files."), "notice"))
    preview = ""
    if details.preview_path and not model.gated and not model.private:  # the browser has no token to load it
        src = resolve_url(endpoint, model.repo_id, details.revision, details.preview_path)
        preview = (f"<img class='mw-hub-preview' src='{esc(src)}' loading='lazy' referrerpolicy='no-referrer' "
                   f"alt='{esc(details.preview_path)}'>")
    parts += [preview, card_facts_html(details), trigger_words_html(details.trigger_words, can_send),
              files_table_html(details.files, kinds)]
    base = resolve_url(endpoint, model.repo_id, details.revision, "")
    card = card_html(details.card_markdown, base_url=base)
    more = (f"<div class='mw-details'><h3>{esc(t('Model card'))}</h3><div class='mw-description mw-hub-card-text'>"
            f"{card}</div></div>") if card else ""
    return f"<div class='mw-details'>{''.join(parts)}</div>", more


def hub_details_placeholder() -> str:
    text = t("Click a repo to see its model card, its files and what each file is.")
    return f"<div class='mw-details mw-details-empty'>{esc(text)}</div>"


def hub_error_html(error: Exception) -> str:
    """A Hub error's sentence (the backend's, translated)."""
    return message_html(str(error), "error")
