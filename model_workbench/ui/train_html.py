"""Small HTML pieces of the Train Tools tab: messages, the progress line, the loss plot (inline SVG),
the checkpoint table with its Preview buttons, the tag frequency table and a grid cell's details.

Every text goes through ``t``/``tf``; every value from disk or the user is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_workbench.ui.i18n import t, tf, tm


def message(text: str, kind: str = "ok") -> str:
    """A one-line notice: kind is ok, error or notice (a core sentence is translated here)."""
    if not text:
        return ""
    css = {"ok": "mw-ok", "error": "mw-error"}.get(kind, "mw-notice")
    return f"<div class='{css}'>{html.escape(tm(text))}</div>"


def error(text: str) -> str:
    return message(text, "error")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"




def state_label(state: str) -> str:
    labels = {"idle": t("Idle"), "running": t("Running"), "finished": t("Finished"),
              "interrupted": t("Interrupted"), "failed": t("Failed")}
    return labels.get(state, state)


def progress_html(status: dict[str, Any]) -> str:
    """The progress line: state, epoch, step, loss, speed, and a bar."""
    state = status.get("state", "idle")
    if state == "idle":
        return f"<div class='mw-train-progress mw-muted'>{html.escape(t('No training has run since the app started.'))}</div>"
    total = max(1, int(status.get("total_steps") or 0))
    step = int(status.get("step") or 0)
    pct = 100.0 * step / total if status.get("total_steps") else 0.0
    parts = [f"<b>{html.escape(state_label(state))}</b>",
             html.escape(f"{status.get('project', '')} / {status.get('version', '')}")]
    if status.get("total_epochs"):
        parts.append(html.escape(tf("epoch {epoch} of {total}", epoch=status.get("epoch", 0),
                                    total=status["total_epochs"])))
    if status.get("total_steps"):
        parts.append(html.escape(tf("step {step} of {total}", step=step, total=status["total_steps"])))
    if status.get("average_loss") is not None:
        parts.append(html.escape(tf("loss {loss}", loss=f"{status['average_loss']:.4f}")))
    if status.get("it_per_s"):
        parts.append(html.escape(f"{status['it_per_s']:.2f} it/s"))
    bar = (f"<div class='mw-bar'><div class='mw-bar-fill mw-state-{html.escape(state)}' "
           f"style='width:{pct:.1f}%'></div></div>")
    note = f"<div class='mw-muted'>{html.escape(tm(status.get('message') or ''))}</div>"
    return f"<div class='mw-train-progress'>{' · '.join(parts)}{bar}{note}</div>"


def loss_svg(points: Sequence[tuple[int, float, float]], width: int = 640, height: int = 200) -> str:
    """Loss per step (thin) and its running average (thick) as an inline SVG that needs no plotting library."""
    if not points:
        return f"<div class='mw-loss mw-muted'>{html.escape(t('The loss plot appears when training starts.'))}</div>"
    pad_l, pad_r, pad_t, pad_b = 52, 12, 12, 26
    steps = [p[0] for p in points]
    values = [v for p in points for v in (p[1], p[2]) if v == v]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    s0, s1 = min(steps), max(steps)
    span = max(1, s1 - s0)

    def xy(step: int, value: float) -> str:
        x = pad_l + (width - pad_l - pad_r) * (step - s0) / span
        y = pad_t + (height - pad_t - pad_b) * (1 - (value - lo) / (hi - lo))
        return f"{x:.1f},{y:.1f}"

    raw = " ".join(xy(s, v) for s, v, _ in points)
    avg = " ".join(xy(s, a) for s, _, a in points)
    axis = (f"<line x1='{pad_l}' y1='{height - pad_b}' x2='{width - pad_r}' y2='{height - pad_b}' class='mw-axis'/>"
            f"<line x1='{pad_l}' y1='{pad_t}' x2='{pad_l}' y2='{height - pad_b}' class='mw-axis'/>")
    labels = (f"<text x='{pad_l - 4}' y='{pad_t + 10}' text-anchor='end'>{hi:.3f}</text>"
              f"<text x='{pad_l - 4}' y='{height - pad_b}' text-anchor='end'>{lo:.3f}</text>"
              f"<text x='{pad_l}' y='{height - 6}'>{html.escape(t('step'))} {s0}</text>"
              f"<text x='{width - pad_r}' y='{height - 6}' text-anchor='end'>{s1}</text>")
    legend = (f"<text x='{width - pad_r}' y='{pad_t + 10}' text-anchor='end' class='mw-legend'>"
              f"{html.escape(t('loss'))} / {html.escape(t('average'))}</text>")
    return (f"<svg class='mw-loss' viewBox='0 0 {width} {height}' width='100%' height='{height}' "
            f"role='img' aria-label='{html.escape(t('Training loss'))}'>{axis}{labels}{legend}"
            f"<polyline points='{raw}' class='mw-loss-raw'/><polyline points='{avg}' class='mw-loss-avg'/></svg>")


def checkpoint_table(infos: Sequence[Any], previewable: bool = True) -> str:
    """One row per saved checkpoint, with a Preview button that the browser script wires to the tab."""
    if not infos:
        return f"<div class='mw-notice'>{html.escape(t('This version has no checkpoints yet. Train it on the Train tab.'))}</div>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   (t("Epoch"), t("Steps"), t("Loss"), t("Size"), t("File"), ""))
    rows = []
    for info in infos:
        epoch = "—" if info.epoch is None else str(info.epoch)
        steps = "—" if info.steps is None else str(info.steps)
        loss = "—" if info.loss is None else f"{info.loss:.4f}"
        path = str(info.path)
        button = preview_button(path) if previewable else ""
        rows.append(f"<tr><td>{epoch}</td><td>{steps}</td><td>{loss}</td><td>{html.escape(human_size(info.size))}</td>"
                    f"<td title='{html.escape(path, quote=True)}'>{html.escape(Path(path).name)}</td><td>{button}</td></tr>")
    return f"<table class='mw-table mw-checkpoints'><tr>{head}</tr>{''.join(rows)}</table>"


def preview_button(path: str) -> str:
    """The row's Preview button; the browser script hands its path to the tab's hidden preview input."""
    return (f"<button class='mw-button mw-preview-button' data-path='{html.escape(path, quote=True)}' "
            "onclick='modelWorkbench.trainPreview(this.dataset.path)'>"
            f"{html.escape(t('Preview'))}</button>")


def snapshot_table(snapshots: Sequence[Any], previewable: bool = True) -> str:
    """One row per step WebUI's trainer saved (an embedding's or hypernetwork's checkpoints)."""
    if not snapshots:
        return f"<div class='mw-notice'>{html.escape(t('This version has no saved steps yet. Train it on the Train tab.'))}</div>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (t("Step"), t("Name"), t("Size"), t("File"), ""))
    rows = []
    for snap in snapshots:
        path = str(snap.path)
        size = human_size(snap.path.stat().st_size) if snap.path.is_file() else "—"
        rows.append(f"<tr><td>{snap.step}</td><td>{html.escape(snap.name)}</td><td>{html.escape(size)}</td>"
                    f"<td title='{html.escape(path, quote=True)}'>{html.escape(snap.path.name)}</td>"
                    f"<td>{preview_button(path) if previewable else ''}</td></tr>")
    return f"<table class='mw-table mw-checkpoints'><tr>{head}</tr>{''.join(rows)}</table>"


def tag_table(counts: Sequence[tuple[str, int]], limit: int = 60) -> str:
    if not counts:
        return f"<div class='mw-muted'>{html.escape(t('No tags yet: auto-tag the images or write captions.'))}</div>"
    cells = "".join(f"<span class='mw-tag'>{html.escape(tag)} <b>{n}</b></span>" for tag, n in counts[:limit])
    more = f"<span class='mw-muted'>{html.escape(tf('and {n} more', n=len(counts) - limit))}</span>" \
        if len(counts) > limit else ""
    return f"<div class='mw-tags'>{cells}{more}</div>"


def cell_details(entry: dict[str, Any] | None) -> str:
    """What one grid cell is: its labels, checkpoint, weight, prompt, seed and infotext."""
    if entry is None:
        return f"<div class='mw-muted'>{html.escape(t('Click a cell of the grid to see it large with its parameters.'))}</div>"
    baseline = bool(entry.get("baseline"))  # the no-LoRA column: no checkpoint is applied
    rows = [
        (t("Cell"), entry.get("label", "")),
        (t("Version"), entry.get("version", "")),
        (t("Checkpoint"), t("none (the base model alone)") if baseline
         else Path(entry.get("checkpoint", {}).get("path", "")).name),
        (t("LoRA weight"), "" if baseline else str(entry.get("weight", ""))),
        (t("Prompt"), entry.get("prompt", "")),
        (t("Seed"), str(entry.get("seed", ""))),
        (t("Status"), entry.get("status", "")),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows if v != "")
    info = entry.get("infotext") or entry.get("error") or ""
    return (f"<table class='mw-table'>{body}</table>"
            f"<pre class='mw-infotext'>{html.escape(info)}</pre>")
