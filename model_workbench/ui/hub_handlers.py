"""Event handlers of the Hugging Face sub-tab: thin glue between gradio values and the Hub service and views.

Like the Civitai handlers: plain values and ``gr.update`` objects out, plain dicts in ``gr.State``, and the
install a generator that follows its job in the shared download queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from model_workbench.hub_service import HubSearchForm, HubService, hub_service_for
from model_workbench.huggingface.errors import HubError
from model_workbench.ui import hub_views as views
from model_workbench.ui.civitai_handlers import MAX_POLL_S, POLL_S, CivitaiHandlers, job_result_html
from model_workbench.ui.civitai_views import message_html
from model_workbench.ui.context import UiContext
from model_workbench.ui.i18n import choice_value, t, tf

# The dropdowns' English labels → the values the Hub client takes.
SORTS = {"Most downloads": "downloads", "Most likes": "likes", "Recently updated": "lastModified"}
KINDS = {"All": "all", "Text-to-image": "text-to-image", "LoRA": "lora", "Checkpoint": "checkpoint"}
# The kinds a file may be installed as (its folder): the detected kind is preselected.
INSTALL_KINDS = ("lora", "checkpoint", "embedding", "vae", "controlnet")
DETAILS_OUTPUTS = 7


def sort_labels() -> list[str]:
    return [t("Most downloads"), t("Most likes"), t("Recently updated")]


def kind_filter_labels() -> list[str]:
    return [t("All"), t("Text-to-image"), t("LoRA"), t("Checkpoint")]


def install_kind_labels() -> list[str]:
    return [views.kind_name(kind) for kind in INSTALL_KINDS]


def install_kind_of(label: str | None) -> str:
    for kind in INSTALL_KINDS:
        if label in (kind, views.kind_name(kind)):
            return kind
    return "lora"


def open_target(repo_id: str, revision: str = "main", path: str | None = None) -> str:
    return json.dumps({"repo": repo_id, "revision": revision or "main", "path": path})


def parse_target(target: str) -> dict[str, Any]:
    """What a card click or a pasted link asks to open: ``{"repo", "revision", "path"}``."""
    text = (target or "").strip()
    try:
        value = json.loads(text) if text.startswith("{") else {"repo": text}
    except ValueError:
        value = {}
    return {"repo": str(value.get("repo") or ""), "revision": str(value.get("revision") or "main"),
            "path": value.get("path") or None}


def file_index(state: dict, value: Any) -> int | None:
    """The chosen file's place in the details' list: the dropdown gives an index, or (a value set by a handler
    in gradio 3) its label, or nothing; then the file the details preselected."""
    paths = state.get("paths") or []
    if isinstance(value, int) and 0 <= value < len(paths):
        return value
    labels = state.get("labels") or []
    if isinstance(value, str) and value in labels:
        return labels.index(value)
    chosen = state.get("chosen")
    return chosen if isinstance(chosen, int) and 0 <= chosen < len(paths) else None


class HubHandlers:
    def __init__(self, ctx: UiContext, service: HubService | None = None,
                 civitai_handlers: CivitaiHandlers | None = None) -> None:
        self.ctx = ctx
        self.service = service or hub_service_for(ctx.host)
        self.downloads = civitai_handlers or CivitaiHandlers(ctx)  # the one queue, and its panel

    @property
    def can_send(self) -> bool:
        return not self.ctx.standalone

    # -- search ---------------------------------------------------------------------------------
    def search(self, direction: str, query: str, sort: str, kind: str, state: dict | None) -> tuple:
        form = HubSearchForm(query=query or "", sort=SORTS.get(choice_value(sort, list(SORTS)) or "", "downloads"),
                             kind=KINDS.get(choice_value(kind, list(KINDS)) or "", "all"))
        try:
            result = self.service.search(form, direction, state)
        except HubError as error:
            return (views.hub_error_html(error), gr.update(), gr.update(), {**(state or {}), "failed": True},
                    gr.update())
        return ("", views.hub_cards_html(result.models, self.service.previews_known(result.models)),
                views.results_label(len(result.models), result.has_more), result.state,
                gr.update(interactive=result.has_more))

    def previews_after_search(self, state: dict | None) -> Any:
        """The cards again, with the preview images found since (a quiet second event after the search)."""
        if not state or state.get("failed"):
            return gr.update()
        models = self.service.models_of(state)
        try:
            previews = self.service.previews(models)
        except HubError:
            return gr.update()
        return views.hub_cards_html(models, previews) if previews else gr.update()

    def open_linked(self, search_state: dict | None, details_state: dict | None) -> tuple:
        """After a search for a pasted Hub link or ``org/repo``: open that repo (and file); else change nothing."""
        link = (search_state or {}).get("open")
        if not link or (search_state or {}).get("failed"):
            return tuple(gr.update() for _ in range(DETAILS_OUTPUTS + 1))
        target = open_target(link["repo_id"], link.get("revision") or "main", link.get("path"))
        return (*self.open_repo(target, details_state), target)

    # -- details --------------------------------------------------------------------------------
    def open_repo(self, target: str, state: dict | None) -> tuple:
        asked = parse_target(target)
        if not asked["repo"]:
            return (views.hub_details_placeholder(), "", gr.update(), gr.update(), gr.update(), "", state or {})
        try:
            details = self.service.details(asked["repo"], asked["revision"])
            kinds = self.service.kinds(details)
        except HubError as error:
            return (views.hub_error_html(error), "", gr.update(choices=[], value=None), gr.update(), "", "", {})
        summary, card = views.hub_details_parts(details, kinds, endpoint=self.service.endpoint, can_send=self.can_send)
        paths = [f.path for f in details.files if views.is_model_file(f.path)]
        labels = [self._file_label(details, kinds, p) for p in paths]
        chosen = self._preferred(paths, kinds, asked["path"])
        new_state = {"repo": details.model.repo_id, "revision": details.revision, "paths": paths, "labels": labels,
                     "chosen": chosen, "kinds": {p: kinds[p].kind for p in paths if p in kinds},
                     "target": (target or "").strip()}
        if not paths:
            return (summary, card, gr.update(choices=[], value=None), gr.update(),
                    "", message_html(t("Nothing to install from this repo."), "notice"), new_state)
        kind = new_state["kinds"].get(paths[chosen]) or "lora"
        name, where = self._where(new_state, chosen, kind, "", "")
        return (summary, card, gr.update(choices=labels, value=labels[chosen]),
                gr.update(value=views.kind_name(kind if kind in INSTALL_KINDS else "lora")), name or "", where, new_state)

    @staticmethod
    def _file_label(details: Any, kinds: dict, path: str) -> str:
        file = next(f for f in details.files if f.path == path)
        return f"{path} · {views.file_kind_label(kinds.get(path))} · {views.human_size(file.size)}"

    @staticmethod
    def _preferred(paths: list[str], kinds: dict, asked: str | None) -> int:
        """The file a link named, else the first one WebUI can load, else the first."""
        if asked in paths:
            return paths.index(asked)
        loadable = [i for i, p in enumerate(paths) if p in kinds and kinds[p].kind and kinds[p].loadable]
        return loadable[0] if loadable else 0

    def _where(self, state: dict, index: int, kind: str, subfolder: str, filename: str) -> tuple[str | None, str]:
        """(the file name that will really be used, or None when refused; where it goes, or why not)."""
        try:
            plan = self.service.plan(state["repo"], state["revision"], state["paths"][index], kind, subfolder, filename)
        except (KeyError, IndexError):
            return None, ""
        except ValueError as error:
            return None, message_html(str(error), "error")
        text = tf("Will be saved to {path}", path=str(plan.folder / plan.filename))
        return plan.filename, f"<div class='mw-muted mw-path'>{views.esc(text)}</div>"

    def file_changed(self, index: Any, subfolder: str, state: dict | None) -> tuple:
        """Another file chosen: its detected kind preselected, and where it would go."""
        state = state or {}
        paths = state.get("paths") or []
        index = file_index(state, index)
        if index is None:
            return gr.update(), gr.update(), gr.update()
        kind = (state.get("kinds") or {}).get(paths[index]) or "lora"
        kind = kind if kind in INSTALL_KINDS else "lora"
        name, where = self._where(state, index, kind, subfolder or "", "")
        return gr.update(value=views.kind_name(kind)), name or "", where

    def where_changed(self, index: Any, kind_label: str, subfolder: str, filename: str, state: dict | None) -> tuple:
        state = state or {}
        index = file_index(state, index)
        if index is None:
            return gr.update(), ""
        name, where = self._where(state, index, install_kind_of(kind_label), subfolder or "", filename or "")
        return (name if name is not None else gr.update()), where

    # -- install --------------------------------------------------------------------------------
    def install(self, index: Any, kind_label: str, subfolder: str, filename: str, state: dict | None,
                clicked: str | None = None) -> Iterator[tuple]:
        state = state or {}
        paths = state.get("paths") or []
        index = file_index(state, index)
        if index is None:
            yield message_html(t("Open a repo first, then choose a file to install."), "notice"), gr.update()
            return
        if clicked and state.get("target") and state["target"] != clicked.strip():
            yield message_html(t("The repo you clicked is still loading: press Install again once its details "
                                 "are shown."), "notice"), gr.update()
            return
        try:
            job_id, path = self.service.install(state["repo"], state["revision"], paths[index],
                                                install_kind_of(kind_label), subfolder or "", filename or "")
        except HubError as error:
            yield views.hub_error_html(error), gr.update()
            return
        except (ValueError, OSError) as error:
            yield message_html(str(error), "error"), gr.update()
            return
        queue = self.downloads.service.queue
        yield message_html(tf("Added to the download queue: {path}", path=str(path)), "notice"), self.downloads.initial_queue()
        deadline = time.monotonic() + MAX_POLL_S
        while time.monotonic() < deadline:
            job = queue.get(job_id)
            if job is None or not job.status.active:
                break
            time.sleep(POLL_S)
            yield gr.update(), self.downloads.initial_queue()
        yield self._job_result(queue.get(job_id)), self.downloads.initial_queue()

    @staticmethod
    def _job_result(job: Any) -> str:
        return job_result_html(job, t("Installed unverified to {path}: the Hub gave no SHA256 for this file, so it "
                                      "could not be checked for damage in transit."))

    def queue_action(self, value: str) -> Iterator[str]:
        yield from self.downloads.queue_action(value)
