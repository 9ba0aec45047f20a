"""Event handlers of the Civitai tab: thin glue between gradio values and the service and views.

Handlers return plain values and ``gr.update`` objects; the long ones (downloads, library scan) are
generators that yield while work is running, so the panel shows progress and other events still run.
Per-session state (``gr.State``) holds plain dicts only, never clients.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from model_workbench.civitai import CivitaiError, Model, ModelVersion
from model_workbench.civitai.enums import PERIODS, SORTS
from model_workbench.civitai_service import NSFW_SETTING_LEVELS, CivitaiService, SearchForm, service_for
from model_workbench.hub_service import hub_service_for
from model_workbench.huggingface.errors import HubError
from model_workbench.settings_schema import NSFW_LEVELS
from model_workbench.ui import civitai_views as views
from model_workbench.ui.civitai_queue_view import any_active, queue_html
from model_workbench.ui.context import UiContext
from model_workbench.ui.i18n import choice_value, t, tf
from model_workbench.ui.library_views import hash_progress_html, library_html

NSFW_CHOICES = list(NSFW_LEVELS)
POLL_S = 0.5
MAX_POLL_S = 6 * 3600


def nsfw_choice(setting: str) -> str:
    return setting if setting in NSFW_CHOICES else "PG-13"


class CivitaiHandlers:
    def __init__(self, ctx: UiContext, service: CivitaiService | None = None,
                 base_model_choices: list[str] | None = None) -> None:
        self.ctx = ctx
        self.service = service or service_for(ctx.host)
        self.base_model_choices = list(base_model_choices or [])

    @property
    def can_send(self) -> bool:
        return not self.ctx.standalone

    def _installed_sets(self) -> tuple[set[int], set[int]]:
        try:
            index = self.service.installed()
        except OSError:
            return set(), set()
        return set(index.by_version), set(index.by_model)

    # -- search ---------------------------------------------------------------------------------
    def search(self, direction: str, query: str, types: list[str], bases: list[str], sort: str, period: str,
               nsfw: str, hide_installed: bool, state: dict | None) -> tuple:
        form = SearchForm(query=query or "", types=list(types or []), base_models=list(bases or []),
                          sort=choice_value(sort, SORTS) or "Highest Rated", period=choice_value(period, PERIODS) or "AllTime",
                          nsfw_level=NSFW_SETTING_LEVELS.get(nsfw or "PG-13", 2), hide_installed=bool(hide_installed))
        try:
            result = self.service.search(form, direction, state)
        except CivitaiError as error:
            return (views.error_html(error, self.ctx.standalone), gr.update(), gr.update(),
                    {**(state or {}), "failed": True}, gr.update(), gr.update())
        versions, models = self._installed_sets()
        grid = views.cards_html(result.models, max_level=form.nsfw_level, installed_versions=versions,
                                installed_models=models, skip_restricted=self.service.settings.updates_skip_early_access)
        label = views.page_label(result.page_number, len(result.models), result.hidden_installed)
        return ("", grid, label, result.state, gr.update(interactive=result.can_go_back),
                gr.update(interactive=result.can_go_next))

    def base_models_after_search(self, selected: list[str] | None, state: dict | None) -> Any:
        """Civitai's current base-model list (``/enums``, cached a day) once Civitai answered a search.

        A separate, quiet event after the search: were the dropdown an output of the search itself,
        gradio would draw the search's busy state on it instead of only on the results.
        """
        if not state or state.get("failed"):
            return gr.update()  # Civitai did not answer: do not ask it again for the list
        selected = list(selected or [])
        try:
            enums = self.service.enums()
        except (CivitaiError, OSError):
            return gr.update()
        choices = list(enums.base_models)
        if not enums.from_server or choices == self.base_model_choices:
            return gr.update()
        self.base_model_choices = choices
        return gr.update(choices=choices, value=[b for b in selected if b in choices])

    def open_linked(self, search_state: dict | None, details_state: dict | None) -> tuple:
        """After a search for a pasted model link: open that model at that version (else change nothing).

        The last output is the "clicked" box: the opened link counts as the last click, so Download acts on it.
        """
        target = (search_state or {}).get("open")
        if not target or (search_state or {}).get("failed"):
            return tuple(gr.update() for _ in range(8))
        return (*self.open_model(target, details_state), target)

    # -- details --------------------------------------------------------------------------------
    def open_model(self, target: str, state: dict | None) -> tuple:
        """``target`` is "<model id>" or "<model id>:<version id>" (set by the card's click)."""
        try:
            model_part, _, version_part = (target or "").strip().partition(":")
            model_id = int(model_part)
            version_id = int(version_part) if version_part else None
        except ValueError:
            return (views.details_placeholder(), "", gr.update(), gr.update(), gr.update(), "", state or {})
        try:
            model = self.service.model(model_id)
        except CivitaiError as error:
            return (views.error_html(error, self.ctx.standalone), "", gr.update(choices=[], value=None), "", "", "", {})
        version = next((v for v in model.versions if v.id == version_id), None) or \
            (model.versions[0] if model.versions else None)
        examples: list = []
        if version is not None:
            try:
                full = self.service.version(version.id)
                version = _merge_version(version, full)
            except CivitaiError:
                pass  # the list's copy has everything but the generation parameters
            examples = self.service.example_images(version)
        versions, _ = self._installed_sets()
        summary, more = views.details_parts(model, version, examples, site_url=self.service.site_url,
                                            installed_versions=versions, can_send=self.can_send,
                                            standalone=self.ctx.standalone)
        files = version.files if version is not None else []
        labels = [_file_label(f) for f in files]
        primary = version.primary_file if version is not None else None
        chosen = files.index(primary) if primary in files else 0
        subfolder = self.service.default_subfolder(version) if version is not None else ""
        new_state = {"model_id": model.id, "version_id": version.id if version else None,
                     "file_ids": [f.id for f in files], "target": (target or "").strip()}
        name, where = self._where(model, version, files[chosen].id if files else None, subfolder, "")
        if not files:
            where = views.message_html(t("Nothing to download for this version."), "notice")
        return (summary, more, gr.update(choices=labels, value=labels[chosen] if labels else None), subfolder,
                name or "", where, new_state)

    def _where(self, model: Model, version: ModelVersion | None, file_id: int | None, subfolder: str,
               filename: str) -> tuple[str | None, str]:
        """(the file name that will really be used, or None when refused; where it goes, or why not)."""
        if version is None:
            return None, ""
        try:
            plan = self.service.plan(model, version, file_id, subfolder, filename)
        except ValueError as error:
            return None, views.message_html(str(error), "error")
        text = tf("Will be saved to {path}", path=str(plan.folder / plan.filename))
        notes = ""
        if not self.service.has_api_key:
            notes = views.message_html(t("No Civitai API key is set: most downloads need one.") + " "
                                       + views.api_key_hint(self.ctx.standalone), "notice")
        return plan.filename, f"<div class='mw-muted mw-path'>{views.esc(text)}</div>{notes}"

    def file_changed(self, index: Any, subfolder: str, state: dict | None) -> tuple:
        file_id = _file_id(state, index)
        try:
            model = self.service.model(int((state or {})["model_id"]))
        except (KeyError, TypeError, ValueError, CivitaiError):
            return gr.update(), gr.update()
        version = next((v for v in model.versions if v.id == (state or {}).get("version_id")), None)
        name, where = self._where(model, version, file_id, subfolder or "", "")
        return name or "", where

    def where_changed(self, index: Any, subfolder: str, filename: str, state: dict | None) -> tuple:
        """The File name box shows the name that will really be used; a refused one stays as typed."""
        try:
            model = self.service.model(int((state or {})["model_id"]))
        except (KeyError, TypeError, ValueError, CivitaiError):
            return gr.update(), ""
        version = next((v for v in model.versions if v.id == (state or {}).get("version_id")), None)
        name, where = self._where(model, version, _file_id(state, index), subfolder or "", filename or "")
        return (name if name is not None else gr.update()), where

    # -- downloads ------------------------------------------------------------------------------
    def download(self, index: Any, subfolder: str, filename: str, state: dict | None,
                 clicked: str | None = None) -> Iterator[tuple]:
        """``clicked`` is the model (and version) last clicked; the details in ``state`` must be that one's."""
        state = state or {}
        if not state.get("model_id") or not state.get("version_id"):
            yield views.message_html(t("Open a model first, then choose a file to download."), "notice"), gr.update()
            return
        if clicked and "target" in state and state["target"] != clicked.strip():
            yield views.message_html(t("The model you clicked is still loading: press Download again once its "
                                       "details are shown."), "notice"), gr.update()
            return
        try:
            job_id, path = self.service.download(state["model_id"], state["version_id"], _file_id(state, index),
                                                 subfolder or "", filename or "")
        except CivitaiError as error:
            yield views.error_html(error, self.ctx.standalone), gr.update()
            return
        except (ValueError, OSError) as error:
            yield views.message_html(str(error), "error"), gr.update()
            return
        started = tf("Added to the download queue: {path}", path=str(path))
        yield views.message_html(started, "notice"), self._queue_html()
        deadline = time.monotonic() + MAX_POLL_S
        while time.monotonic() < deadline:
            job = self.service.queue.get(job_id)
            if job is None or not job.status.active:
                break
            time.sleep(POLL_S)
            yield gr.update(), self._queue_html()
        job = self.service.queue.get(job_id)
        yield self._job_result(job), self._queue_html()

    def _job_result(self, job: Any) -> str:
        return job_result_html(job, t("Installed unverified to {path}: Civitai gave no SHA256 checksum for this file, "
                                      "so it could not be checked for damage in transit."))

    def _queue_html(self) -> str:
        return queue_html(self.service.queue.snapshot(), standalone=self.ctx.standalone)

    def queue_action(self, value: str) -> Iterator[str]:
        """``value`` is "<action>:<job id>" (cancel, retry, remove), "clear:" or "refresh"; then follows active jobs."""
        action, _, job_id = (value or "refresh").partition(":")
        queue = self.service.queue
        if action == "cancel":
            queue.cancel(job_id)
        elif action == "retry":
            queue.retry(job_id)
        elif action == "remove":
            queue.remove(job_id)
        elif action == "clear":
            queue.clear_finished()
        yield self._queue_html()
        deadline = time.monotonic() + MAX_POLL_S
        while any_active(queue.snapshot()) and time.monotonic() < deadline:
            time.sleep(POLL_S)
            yield self._queue_html()

    def initial_queue(self) -> str:
        return self._queue_html()

    # -- library --------------------------------------------------------------------------------
    def library_scan(self, force_match: bool = False) -> Iterator[tuple[str, str]]:
        service = self.service
        service.library_cancel.clear()
        yield views.message_html(t("Scanning the model folders…"), "notice"), gr.update()
        try:
            result = service.scan_library()
        except OSError as error:
            yield views.message_html(str(error), "error"), gr.update()
            return
        yield views.message_html(tf("Found {count} models. Hashing the new ones…", count=len(result.records)),
                                 "notice"), library_html(service.library_rows(), self.can_send)
        task = service.hash_library()
        while not task.done:
            time.sleep(POLL_S)
            yield hash_progress_html(task.progress), gr.update()
        report = task.report
        if report is not None and report.cancelled or service.library_cancel.is_set():
            yield views.message_html(t("Stopped. Hashes finished so far are kept."), "notice"), \
                library_html(service.library_rows(), self.can_send)
            return
        yield views.message_html(t("Matching on Civitai…"), "notice"), library_html(service.library_rows(),
                                                                                    self.can_send)
        try:
            match = service.match_library(force=force_match)
        except CivitaiError as error:
            yield views.error_html(error, self.ctx.standalone), library_html(service.library_rows(), self.can_send)
            return
        problems = [match.error] if match.error else []
        written = 0
        try:
            for _path, sidecars in service.fill_sidecars(match.versions):
                written += len(sidecars.written)
        except CivitaiError as error:
            problems.append(str(error))
        service.scan_library()  # pick up the sidecars just written
        rows = service.library_rows()
        if any(row.get("hub") for row in rows):
            yield views.message_html(t("Checking Hugging Face files for newer revisions…"), "notice"), gr.update()
            try:
                hub_service_for(self.ctx.host).check_library(rows)
            except HubError as error:
                problems.append(str(error))
            rows = service.library_rows()
        summary = tf("Done: {matched} matched on Civitai, {missing} not on Civitai, {files} sidecar files written.",
                     matched=sum(1 for r in rows if r["status"] in ("matched", "update_available")),
                     missing=sum(1 for r in rows if r["status"] == "not_on_civitai"), files=written)
        status = views.message_html(" ".join([summary, *problems]), "error" if problems else "ok")
        yield status, library_html(rows, self.can_send)

    def library_cancel(self) -> str:
        self.service.cancel_library()
        return views.message_html(t("Stopping…"), "notice")

    def library_table(self) -> str:
        """The table as of the last scan (shown on page load), or a hint to scan."""
        rows = self.service.library_rows_if_scanned()
        if rows is None:
            return views.message_html(t("Press Scan model folders to list your models."), "notice")
        return library_html(rows, self.can_send)


def job_result_html(job: Any, unverified: str) -> str:
    """What became of a download, under the details (``unverified``: the translated sentence, with {path}, for
    a file its source gave no checksum for)."""
    if job is None:
        return ""
    if job.status.value == "done":
        if not job.verified:
            return views.message_html(unverified.format(path=job.destination or ""), "notice")
        text = tf("Installed to {path}", path=job.destination or "")
        if job.reused or "failed" in job.message:
            text += " " + job.message  # the existing file was kept, or the sidecars could not be written
        return views.message_html(text, "ok")
    if job.status.value == "failed":
        # The job's card (which stays) says why and what to do; saying it here too doubles it.
        return views.message_html(tf("The download of {name} failed: the Downloads list below says why.",
                                     name=job.name), "error")
    return views.message_html(job.message, "notice")


def _file_label(file: Any) -> str:
    size = views.human_size(file.approx_size_bytes)
    return f"{file.name} · {file.type} · {size}"


def _file_id(state: dict | None, index: Any) -> int | None:
    ids = (state or {}).get("file_ids") or []
    if isinstance(index, int) and 0 <= index < len(ids):
        return ids[index]
    return ids[0] if ids else None


def _merge_version(listed: ModelVersion, full: ModelVersion) -> ModelVersion:
    """The version endpoint's copy (images with ``meta``), keeping the list's files if it has none."""
    if not full.files and listed.files:
        full.files = listed.files
    if not full.images and listed.images:
        full.images = listed.images
    return full
