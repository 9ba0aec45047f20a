"""Fixed-seed grids of embedding and hypernetwork step snapshots: "snapshots × values", whatever the kind.

One planner (preview.plan.grid_plan) and one renderer (preview.grid_writer) serve every kind, so the
grids, labels, manifest and per-cell infotext are those of LoRA grids. What differs is only the value
axis (:class:`~model_workbench.preview.plan.ValueAxis`) and what a cell asks the host for:

- hypernetwork: steps × strengths, each cell ``ExtraNetwork(kind="hypernet", name=<unique>, weight, path)``
  (``<hypernet:NAME:S>`` in WebUI), the first column "no hypernetwork" (strength 0: the plain prompt);
- embedding: steps × prompts (a sub-grid per prompt), each cell ``ExtraNetwork(kind="embedding",
  name=<trigger word>, path)``; the first column is the same prompt with the trigger word taken out.

A snapshot source is a version's log folder or a run of WebUI's own Train tab (:mod:`.webui_runs`).
Entry points for the tab and the API: :meth:`KindPreviewService.grid`, :meth:`KindPreviewService.compare`,
:func:`version_source`, :func:`outside_source`, :func:`embedding_prompts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..host import Host, StopFlag
from ..preview.compare import render_comparison
from ..preview.grid_writer import render_and_save
from ..preview.host_bridge import host_cell_renderer
from ..preview.plan import GenerationSettings, ValueAxis, grid_plan, resolve_seed, step_checkpoint
from ..preview.requests import format_weight
from . import projects, webui_fields, webui_runs
from .previews import PREVIEW_JOB, PreviewOutcome, PreviewService, Progress, _stamp, _weights
from .webui_kinds import StepSnapshot, VersionKind

MSG_NO_STEPS = "{title} has no saved steps yet; train it first."
MSG_NOT_SAME_KIND = "Only versions of the same kind can be compared ({kinds})."
MSG_LORA_VERSION = "{project} / {version} is a LoRA version; its checkpoints are previewed with the LoRA preview."
MSG_NO_PROMPTS = "Enter a prompt, or choose a prompt template."

EXTRA_KIND = {VersionKind.EMBEDDING: "embedding", VersionKind.HYPERNETWORK: "hypernet"}
HYPERNET_AXIS = ValueAxis(title="hypernetwork strength", baseline_label="no hypernetwork",
                          value_label=lambda w: f"strength {format_weight(w)}")


def remove_word(prompt: str, word: str) -> str:
    """``prompt`` without ``word`` (whole word, any case) and the commas or spaces it leaves behind."""
    text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", "", prompt, flags=re.IGNORECASE)
    text = re.sub(r"\s*,(\s*,)+", ",", text)
    text = re.sub(r"\s+,", ",", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,")


def embedding_axis(word: str) -> ValueAxis:
    """An embedding grid's columns: the prompt without the trigger word, then with the embedding."""
    return ValueAxis(title="embedding", baseline_label="no embedding", value_label=lambda _w: word,
                     baseline_prompt=lambda prompt: remove_word(prompt, word))


def embedding_prompts(host: Host, word: str, prompts: str | Sequence[str] = "", template: str = "") -> list[str]:
    """The prompts of an embedding grid: the user's (the trigger word added where one lacks it), else the
    lines of the host's prompt ``template`` with ``[name]`` = the word and ``[filewords]`` left out."""
    items = [prompts] if isinstance(prompts, str) else list(prompts)
    typed = [p.strip() for p in items if p and p.strip()]
    if typed:
        return [p if remove_word(p, word) != p.strip(" ,") else f"{word}, {p}" for p in typed]
    text = host.prompt_template_text(template) if template else None
    found = webui_fields.template_prompts(text, word) if text else []
    if not found:
        raise ValueError(MSG_NO_PROMPTS)
    return found


@dataclass(frozen=True)
class SnapshotSource:
    """Step snapshots to preview and where their grids go: a version's, or an outside run's."""

    kind: VersionKind
    name: str  # the network's name: an embedding's trigger word
    snapshots: list[StepSnapshot]
    grids: Path
    title: str
    project: str | None = None
    version: str | None = None
    template: str = ""  # the version's prompt template: an embedding grid's prompts when none are typed

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "title": self.title, "project": self.project,
                "version": self.version, "steps": [webui_runs.snapshot_row(s) for s in self.snapshots]}


def version_source(root: str | Path, project: str, version: str) -> SnapshotSource:
    """A version's snapshots (its runs' saved steps, newest last) and its project's grid folder."""
    paths = projects.project_paths(root, project)
    config = projects.read_version_config(root, paths.name, version)
    kind = webui_fields.version_kind(config)
    if kind is VersionKind.LORA:
        raise ValueError(MSG_LORA_VERSION.format(project=paths.name, version=version))
    fields = webui_fields.stored_fields(config)
    snapshots = webui_runs.version_snapshots(root, paths.name, version, kind, fields.name)
    return SnapshotSource(kind, fields.name, snapshots, paths.grids, projects.output_name(paths.name, version),
                          paths.name, projects.validate_name(version, "version"), fields.training.template_file)


def outside_source(host: Host, run_id: str, kind: VersionKind | str, root: str | Path | None = None) -> SnapshotSource:
    """The snapshots of one kind of a run made in WebUI's own Train tab; its grids go to the data folder."""
    kind = webui_fields.parse_kind(kind)
    run = webui_runs.find_outside_run(host.webui_training_log_dir(), run_id)
    snapshots = run.snapshots.get(kind, [])
    base = Path(root) if root is not None else host.data_dir()
    return SnapshotSource(kind, run.name, snapshots, base / webui_runs.OUTSIDE_GRIDS / "grids",
                          f"{run.date}-{run.name}")


class KindPreviewService(PreviewService):
    """Grids of embedding and hypernetwork steps on a host (the same lock, progress and stop as LoRA's)."""

    def _refs(self, source: SnapshotSource, steps: Sequence[str] | None) -> list:
        if not source.snapshots:
            raise ValueError(MSG_NO_STEPS.format(title=source.title))
        chosen = webui_runs.pick_snapshots(source.snapshots, list(steps) if steps else None)
        word = source.name if source.kind is VersionKind.EMBEDDING else ""
        return [step_checkpoint(s.path, s.step, EXTRA_KIND[source.kind], word) for s in chosen]

    def _values(self, source: SnapshotSource, strengths: str | Sequence[float],
                prompts: str | Sequence[str], template: str) -> tuple[list[float], list[str], ValueAxis]:
        if source.kind is VersionKind.EMBEDDING:
            found = embedding_prompts(self.host, source.name, prompts, template or source.template)
            return [1.0], found, embedding_axis(source.name)
        items = [prompts] if isinstance(prompts, str) else list(prompts)
        return _weights(strengths), [p for p in items if p and p.strip()], HYPERNET_AXIS

    def grid(self, source: SnapshotSource, strengths: str | Sequence[float] = "1.0", prompts: str | Sequence[str] = "",
             settings: GenerationSettings | None = None, seed: int = -1, steps: Sequence[str] | None = None,
             template: str = "", baseline: bool = True, progress: Progress | None = None,
             stop: StopFlag | None = None) -> PreviewOutcome:
        """Preview all (same seed) for a kind: steps × strengths (hypernetwork) or steps × prompts (embedding),
        the baseline column first unless ``baseline`` is off; saved in the source's grid folder."""
        self._guard()
        settings = settings or GenerationSettings()
        refs = self._refs(source, steps)
        weights, prompt_list, axis = self._values(source, strengths, prompts, template)
        plan = grid_plan(refs, weights, prompt_list, settings, seed=seed, title=source.title, baseline=baseline,
                         axis=axis)
        plan.y_title = "step"
        if source.project and source.version:
            with self._locked_on_base(source.project, [source.version]) as notes:
                result, saved = self._render(plan, source, progress, stop)
        else:
            with self.host.gpu_lock(PREVIEW_JOB):
                notes = []
                result, saved = self._render(plan, source, progress, stop)
        return PreviewOutcome(saved, [result], notes)

    def _render(self, plan: Any, source: SnapshotSource, progress: Progress | None, stop: StopFlag | None) -> Any:
        return render_and_save(plan, host_cell_renderer(self.host), source.grids, f"{source.title}-grid-{_stamp()}",
                               progress=self._progress(progress), stop=self._stop(stop))

    def compare(self, project: str, versions: Sequence[str], weights: str | Sequence[float], prompt: str | Sequence[str],
                settings: GenerationSettings, seed: int = -1, progress: Progress | None = None,
                stop: StopFlag | None = None, template: str = "", baseline: bool = False) -> PreviewOutcome:
        """The last step of each version (all of one kind), same prompts, seed and values, side by side."""
        self._guard()
        sources = [version_source(self.root, project, v) for v in versions]
        kinds = sorted({s.kind.value for s in sources})
        if len(kinds) > 1:
            raise ValueError(MSG_NOT_SAME_KIND.format(kinds=", ".join(kinds)))
        fixed_seed = resolve_seed(seed)
        plans = []
        for source in sources:  # each version's own prompts: an embedding's word differs per version
            last = [str(source.snapshots[-1].path)] if source.snapshots else None
            values, prompt_list, axis = self._values(source, weights, prompt, template)
            plan = grid_plan(self._refs(source, last), values, prompt_list, settings, seed=fixed_seed,
                             baseline=baseline, axis=axis)
            plan.meta["version"] = source.version
            plans.append((source.version or "", plan))
        name = "compare-" + "-".join(projects.validate_name(v, "version") for v in versions)
        with self._locked_on_base(project, versions) as notes:
            results, saved = render_comparison(plans, host_cell_renderer(self.host), sources[0].grids,
                                               f"{name[:80]}-{_stamp()}", progress=self._progress(progress),
                                               stop=self._stop(stop))
        return PreviewOutcome(saved, results, notes)
