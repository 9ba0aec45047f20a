"""The Library sub-tab as pure HTML: a table of local models with status badges and actions.

Rows are the dicts of ``LocalLibrary.rows()`` (plus ``preferred_weight``); the view adds nothing it
has to fetch. "Show info" is a ``<details>`` element, so it needs no round trip to the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from model_workbench.library.hashing import HashProgress
from model_workbench.ui.civitai_views import esc, human_size, js_arg
from model_workbench.ui.i18n import t, tf, tm

STATUS_CSS = {"matched": "mw-badge-installed", "update_available": "mw-badge-update",
              "not_on_civitai": "mw-badge-muted", "unknown": "", "unhashed": "mw-badge-muted",
              "removed": "mw-badge-warn"}


def status_label(status: str) -> str:
    return {
        "matched": t("On Civitai"), "update_available": t("Update available"),
        "not_on_civitai": t("Not on Civitai"), "unknown": t("Not matched yet"), "unhashed": t("Not hashed yet"),
        "removed": t("Removed from Civitai"),
    }.get(status, status)


def row_source(row: dict[str, Any]) -> str:
    """Where a local model came from: "hub" (its ``.hf.json`` says so), "civitai" (its sidecar or its hash), or ""."""
    if row.get("hub") or row.get("source") == "hub":
        return "hub"
    return "civitai" if row.get("civitai") or row.get("source") == "civitai" else ""


def source_label(row: dict[str, Any]) -> str:
    return {"hub": t("Hugging Face"), "civitai": t("Civitai")}.get(row_source(row), "–")


def hub_badge(hub: dict[str, Any]) -> str:
    """A Hub file's state: a newer revision of it on the Hub, the same, or not checked yet."""
    if hub.get("update_available"):
        return f"<span class='mw-badge mw-badge-update'>{esc(t('Newer revision on the Hub'))}</span>"
    if hub.get("update_available") is False:
        return f"<span class='mw-badge mw-badge-installed'>{esc(t('Up to date on the Hub'))}</span>"
    if hub.get("check_error"):
        return (f"<span class='mw-badge mw-badge-warn' title='{esc(tm(hub['check_error']))}'>"
                f"{esc(t('Not checked'))}</span>")
    return f"<span class='mw-badge'>{esc(t('From Hugging Face'))}</span>"


def kind_label(kind: str) -> str:
    return {"checkpoint": t("checkpoint"), "lora": t("lora"), "embedding": t("embedding"),
            "hypernetwork": t("hypernetwork"), "vae": t("vae")}.get(kind, kind)


def prompt_text(row: dict[str, Any]) -> str | None:
    """What "send to prompt" puts in the prompt for this local model (None for checkpoints and VAEs)."""
    stem = PurePath(row["path"]).stem
    civitai = row.get("civitai") or {}
    words = ", ".join(civitai.get("trained_words") or [])
    weight = row.get("preferred_weight") or 1.0
    if row["kind"] == "lora":
        tag = f"<lora:{stem}:{weight:g}>"
    elif row["kind"] == "hypernetwork":
        tag = f"<hypernet:{stem}:{weight:g}>"
    elif row["kind"] == "embedding":
        tag = stem
    else:
        return words or None
    return f"{tag}, {words}" if words else tag


def _info(row: dict[str, Any]) -> str:
    civitai = row.get("civitai") or {}
    facts = [(t("File"), row["path"]), (t("SHA256"), row.get("sha256") or t("not computed yet"))]
    sidecars = [name for flag, name in ((row.get("preview_path"), t("preview")),
                                        (row.get("has_user_metadata"), ".json"),
                                        (row.get("has_civitai_info"), ".civitai.info"),
                                        (row.get("hub"), ".hf.json")) if flag]
    facts.append((t("Sidecars"), ", ".join(sidecars) or t("none")))
    hub = row.get("hub") or {}
    if hub:
        facts.append((t("Hugging Face file"), f"{hub.get('repo_id')} – {hub.get('path')}"))
        facts.append((t("Revision"), str(hub.get("revision") or "")[:10]))
        if hub.get("update_available") and hub.get("newest_revision"):
            facts.append((t("Newest revision"), str(hub["newest_revision"])[:10]))
    if civitai:
        facts.append((t("Civitai version"), f"{civitai.get('model_name')} – {civitai.get('version_name')}"))
        if civitai.get("update_available"):
            facts.append((t("Newest version"), civitai.get("newest_version_name") or str(civitai.get("newest_version_id"))))
        if civitai.get("trained_words"):
            facts.append((t("Trigger words"), ", ".join(civitai["trained_words"])))
    items = "".join(f"<div><b>{esc(k)}</b> {esc(v)}</div>" for k, v in facts)
    return f"<details class='mw-info'><summary>{esc(t('Info'))}</summary>{items}</details>"


def row_html(row: dict[str, Any], can_send: bool) -> str:
    civitai = row.get("civitai") or {}
    base = row.get("base_model") or civitai.get("base_model") or "–"
    status = row.get("status", "unknown")
    badge = f"<span class='mw-badge {STATUS_CSS.get(status, '')}'>{esc(status_label(status))}</span>"
    hub = row.get("hub") or {}
    if hub and status in ("not_on_civitai", "unknown", "unhashed"):
        badge = hub_badge(hub)  # a Hub file: its Hub state says more than "not on Civitai"
    elif hub:
        badge += hub_badge(hub)
    actions = []
    if hub.get("url"):
        actions.append(f"<a class='mw-small-button' href='{esc(hub['url'])}' target='_blank' "
                       f"rel='noopener noreferrer'>{esc(t('Open on Hugging Face'))} ↗</a>")
    if row.get("civitai_url"):
        actions.append(f"<a class='mw-small-button' href='{esc(row['civitai_url'])}' target='_blank' "
                       f"rel='noopener noreferrer'>{esc(t('Open on Civitai'))} ↗</a>")
    text = prompt_text(row)
    if text:
        if can_send:
            actions.append(f"<button class='mw-small-button' onclick='modelWorkbench.sendToPrompt({js_arg(text)})'>"
                           f"{esc(t('Send to prompt'))}</button>")
        actions.append(f"<button class='mw-small-button' onclick='modelWorkbench.copyText({js_arg(text)})'>"
                       f"{esc(t('Copy'))}</button>")
    name = row.get("name") or row.get("filename")
    return (f"<tr data-status='{esc(status)}' data-source='{row_source(row)}' data-path='{esc(row['path'])}'>"
            f"<td class='mw-lib-name'>{esc(name)}<div class='mw-muted mw-small'>{esc(row.get('filename'))}</div></td>"
            f"<td>{esc(kind_label(row['kind']))}</td><td class='mw-lib-source'>{esc(source_label(row))}</td>"
            f"<td>{esc(base)}</td><td>{esc(human_size(row.get('size')))}</td>"
            f"<td>{badge}</td><td class='mw-lib-actions'>{''.join(actions)}{_info(row)}</td></tr>")


def summary_html(rows: Sequence[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.get("status", "unknown")] = counts.get(row.get("status", "unknown"), 0) + 1
    parts = [t("1 model") if len(rows) == 1 else tf("{count} models", count=len(rows))]
    for status in ("matched", "update_available", "removed", "not_on_civitai", "unknown", "unhashed"):
        if counts.get(status):
            parts.append(f"{counts[status]} {status_label(status)}")
    return f"<div class='mw-page-label'>{esc(' · '.join(parts))}</div>"


def library_html(rows: Sequence[dict[str, Any]], can_send: bool = False) -> str:
    if not rows:
        return (f"<div class='mw-empty'>{esc(t('No models found in the model folders.'))} "
                f"{esc(t('Press Scan, or download a model from the Search tab.'))}</div>")
    order = {"update_available": 0, "matched": 1, "removed": 2, "unknown": 3, "unhashed": 4, "not_on_civitai": 5}
    ordered = sorted(rows, key=lambda r: (order.get(r.get("status", ""), 5), r["kind"], str(r.get("name", "")).lower()))
    head = "".join(f"<th>{esc(h)}</th>" for h in (t("Name"), t("Kind"), t("Source"), t("Base model"), t("Size"),
                                                  t("Status"), t("Actions")))
    body = "".join(row_html(r, can_send) for r in ordered)
    return f"{summary_html(rows)}<table class='mw-table mw-library'><tr>{head}</tr>{body}</table>"


def hash_progress_html(progress: HashProgress) -> str:
    percent = progress.fraction * 100
    text = tf("Hashing {done} of {total} files ({bytes_done} of {bytes_total})", done=progress.files_done,
              total=progress.files_total, bytes_done=human_size(progress.bytes_done),
              bytes_total=human_size(progress.bytes_total))
    return (f"<div class='mw-notice'>{esc(text)}<div class='mw-progress'>"
            f"<div class='mw-progress-bar' style='width:{percent:.1f}%'></div></div></div>")
