"""The Hugging Face sub-tab's service layer: one object per host that the UI and the HTTP routes share.

It builds the :class:`HubClient` from ``host.settings()`` (endpoint, token, proxy; a new one when they
change), keeps repos' details and their files' kinds for a few minutes (a header is read once), and
installs files through the Civitai service's download queue, so both sources share one queue, one
Downloads panel, resume, verification and the install rules. Plain Python: no gradio, no ``modules``.

Usage::

    hub = hub_service_for(host)
    page = hub.search(HubSearchForm(query="pixel", kind="lora"))
    details, kinds = hub.details("org/pixel-lora"), hub.kinds(details)
    job_id, path = hub.install("org/pixel-lora", details.revision, "pixel.safetensors", kind="lora")
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from model_workbench.civitai_service import CivitaiService, DownloadPlan, service_for
from model_workbench.downloads.hub_install import HubDownloadSource, HubSidecarWriter, request_for_hub_file
from model_workbench.host import Host
from model_workbench.huggingface import messages as hm
from model_workbench.huggingface.client import HubClient
from model_workbench.huggingface.errors import HubAccessError, HubError, HubNotFoundError
from model_workbench.huggingface.links import HubLink, parse_hub_link
from model_workbench.huggingface.probe import probe_files
from model_workbench.huggingface.responses import parse_sibling, preview_path
from model_workbench.huggingface.types import FileKind, HubFile, HubModel, HubRepoDetails, resolve_url
from model_workbench.library.hub_record import read_hub_record
from model_workbench.per_host import PerHost

CACHE_SECONDS = 300
PREVIEW_WORKERS = 4  # a page's previews: a few at a time, not a burst a mirror would limit


@dataclass
class HubSearchForm:
    """The search box and its two dropdowns as plain data (what a ``gr.State`` may hold)."""

    query: str = ""
    sort: str = "downloads"  # "downloads", "likes", "lastModified"
    kind: str = "all"  # "all", "text-to-image", "lora", "checkpoint"
    limit: int = 24


@dataclass
class HubSearchResult:
    models: list[HubModel]  # every model shown so far (a "more" page is added to the earlier ones)
    state: dict  # plain data: the form, the shown models, the next page's cursor, a pasted link to open
    link: HubLink | None = None

    @property
    def has_more(self) -> bool:
        return bool(self.state.get("next"))


class HubService:
    """Client, caches and installs for one host. Thread-safe; gradio handlers call it from workers."""

    def __init__(self, host: Host, civitai: CivitaiService | None = None) -> None:
        self.host = host
        self._civitai = civitai
        self._lock = threading.RLock()
        self._client: HubClient | None = None
        self._client_key: tuple[str, str, str] | None = None
        self._details: OrderedDict[tuple[str, str], tuple[float, HubRepoDetails]] = OrderedDict()
        self._kinds: dict[tuple[str, str, str], FileKind] = {}
        self._previews: dict[str, str | None] = {}
        self._sidecars: HubSidecarWriter | None = None

    # -- settings and client -------------------------------------------------------------------
    @property
    def civitai(self) -> CivitaiService:
        return self._civitai or service_for(self.host)

    def client(self) -> HubClient:
        """The client for the current settings; a new one when the endpoint, token or proxy changed."""
        s = self.host.settings()
        key = (s.hf_endpoint, s.hf_token, s.proxy)
        with self._lock:
            if self._client is None or key != self._client_key:
                self._client = HubClient(s.hf_endpoint, token=s.hf_token or None, proxy=s.proxy or None)
                self._client_key = key
                self._details.clear()
                self._previews.clear()
            return self._client

    @property
    def endpoint(self) -> str:
        return self.client().endpoint

    @property
    def has_token(self) -> bool:
        return bool(self.host.settings().hf_token)

    # -- search --------------------------------------------------------------------------------
    def search(self, form: HubSearchForm, direction: str = "first", state: dict | None = None) -> HubSearchResult:
        """``direction`` "first" (a new search) or "more" (the next page, added to the shown ones)."""
        client = self.client()
        state = dict(state or {})
        if direction == "first" or not state.get("form"):
            link = parse_hub_link(form.query, [client.endpoint])
            if link is not None:
                details = self.details(link.repo_id, link.revision)
                state = {"form": asdict(form), "models": [asdict(details.model)], "next": None,
                         "open": asdict(link)}
                return HubSearchResult([details.model], state, link)
            page = client.search(form.query, sort=form.sort, kind=form.kind, limit=form.limit)
            shown: list[HubModel] = []
        else:
            form = HubSearchForm(**state["form"])
            page = client.search(cursor=state["next"]) if state.get("next") else None
            shown = self.models_of(state)
        models = shown + [m for m in (page.models if page else ()) if m.repo_id not in {s.repo_id for s in shown}]
        state = {"form": asdict(form), "models": [asdict(m) for m in models], "next": page.next_cursor if page else None}
        return HubSearchResult(models, state)

    @staticmethod
    def models_of(state: dict | None) -> list[HubModel]:
        return [HubModel(**{**m, "tags": tuple(m.get("tags") or ())}) for m in (state or {}).get("models") or []]

    def previews(self, models: list[HubModel]) -> dict[str, str]:
        """repo → the URL of its preview image, for the repos that have one (each repo asked once; a repo
        that cannot be asked simply shows no image)."""
        client = self.client()
        # A gated or private repo's images need the token, which never goes to the browser: no preview for those.
        todo = [m for m in models if m.repo_id not in self._previews and not m.private and not m.gated]

        def one(model: HubModel) -> tuple[str, str | None]:
            try:
                info = client.model_info(model.repo_id)
            except HubError:
                return model.repo_id, None
            commit = str(info.get("sha") or "main")
            siblings = info.get("siblings") if isinstance(info.get("siblings"), list) else []
            files = [f for f in (parse_sibling(s, model.repo_id, commit) for s in siblings if isinstance(s, dict)) if f]
            path = preview_path([f.path for f in files])
            return model.repo_id, resolve_url(client.endpoint, model.repo_id, commit, path) if path else None

        if todo:
            with ThreadPoolExecutor(max_workers=min(PREVIEW_WORKERS, len(todo)), thread_name_prefix="mw-hf-preview") as pool:
                found = dict(pool.map(one, todo))
            with self._lock:
                self._previews.update(found)
        return self.previews_known(models)

    def previews_known(self, models: list[HubModel]) -> dict[str, str]:
        """The preview URLs already found (no request)."""
        with self._lock:
            return {m.repo_id: url for m in models if (url := self._previews.get(m.repo_id))}

    # -- a repo --------------------------------------------------------------------------------
    def details(self, repo_id: str, revision: str = "main", fresh: bool = False) -> HubRepoDetails:
        """The repo's card, files and preview (kept a few minutes)."""
        key = (repo_id, revision or "main")
        with self._lock:
            hit = self._details.get(key)
            if hit and not fresh and time.monotonic() - hit[0] < CACHE_SECONDS:
                return hit[1]
        details = self.client().details(repo_id, revision or "main")
        with self._lock:
            self._details[key] = (time.monotonic(), details)
            self._details[(details.model.repo_id, details.revision)] = (time.monotonic(), details)
            while len(self._details) > 100:
                self._details.popitem(last=False)
            if details.preview_path and not details.model.gated and not details.model.private:
                self._previews[details.model.repo_id] = resolve_url(self.endpoint, details.model.repo_id,
                                                                    details.revision, details.preview_path)
        return details

    # -- installs ------------------------------------------------------------------------------
    def plan(self, repo_id: str, revision: str, path: str, kind: str, subfolder: str | None = None,
             filename: str | None = None) -> DownloadPlan:
        """Where a file would go as ``kind`` (a folder the user may change); ValueError with a sentence for a
        subfolder that leaves the model folder or a file name that is not one."""
        file = self._file(self.details(repo_id, revision), path)
        # The same folder rules as a Civitai install; an unknown kind goes to models/Other.
        return self.civitai.plan_in_folders(kind or "other", file.name, subfolder or "", filename)

    def install(self, repo_id: str, revision: str, path: str, kind: str, subfolder: str | None = None,
                filename: str | None = None) -> tuple[str, Path]:
        """Queue a file in the shared download queue; returns (job id, the path it will have)."""
        details = self.details(repo_id, revision)
        file = self._file(details, path)
        if details.model.gated and not self.has_token:  # said now, not after a failed download
            raise HubAccessError(hm.GATED_NO_TOKEN, token_sent=False, status=401, repo=details.model.repo_id)
        plan = self.plan(repo_id, revision, path, kind, subfolder, filename)
        detected = self.kinds(details).get(path) or FileKind()
        if detected.kind and not detected.loadable:  # saved only where WebUI can load it: say why not instead
            raise HubError(hm.NOT_LOADABLE, status=422, path=path, reason=detected.reason or "")
        # The user's choice of kind decides the folder; the header's family still gives the sd version.
        chosen = FileKind(kind, detected.family, detected.format, detected.loadable, detected.reason)
        client = self.client()
        self._watch_installs(client)
        request = request_for_hub_file(details, file, chosen, plan.folder, endpoint=client.endpoint,
                                       http=client.http, filename=plan.filename)
        job_id = self.civitai.queue.add(request)
        return job_id, plan.folder / plan.filename

    def resume_source(self, url: str) -> HubDownloadSource | None:
        """The Hub source for ``url`` when it is a ``resolve`` URL of the configured endpoint, else None."""
        client = self.client()
        source = HubDownloadSource(client.http, client.endpoint)
        return source if source.owns(url) else None

    def _watch_installs(self, client: HubClient) -> None:
        """Hub files get their sidecars when they land: the writer for the current client joins the queue's hooks."""
        with self._lock:
            if self._sidecars is None or self._sidecars.http is not client.http:
                hooks = self.civitai.install_hooks
                if self._sidecars in hooks:
                    hooks.remove(self._sidecars)
                self._sidecars = HubSidecarWriter(client.http)
                hooks.append(self._sidecars)

    def check_library(self, rows: list[dict]) -> int:
        """For each installed Hub file (a row with a ``hub`` record): is its LFS SHA256 at "main" another one now?

        One tree listing per repo (a GET, which mirrors serve as the Hub does), compared with each file's
        recorded SHA256. The answers go where the library's rows read them; returns how many are newer."""
        client = self.client()
        records = [(row["path"], r) for row in rows if row.get("hub") and (r := read_hub_record(row["path"]))]
        listings: dict[str, dict[str, HubFile] | HubError] = {}
        newer = 0
        for path, record in records:
            if record.repo_id not in listings:
                try:
                    head = client.model_info(record.repo_id)
                    files = client.list_files(record.repo_id, str(head.get("sha") or "main"))
                    listings[record.repo_id] = {f.path: f for f in files}
                except HubError as error:
                    listings[record.repo_id] = error
            listing = listings[record.repo_id]
            if isinstance(listing, HubError):
                result: dict = {"update_available": None, "check_error": str(listing)}
            else:
                now = listing.get(record.path)
                known = bool(now and now.sha256 and record.sha256)
                result = {"update_available": (now.sha256 != record.sha256) if known else None,
                          "newest_revision": now.revision if known and now.sha256 != record.sha256 else None}
            newer += bool(result["update_available"])
            self.civitai.hub_checks[path] = result
        return newer

    @staticmethod
    def _file(details: HubRepoDetails, path: str) -> HubFile:
        file = next((f for f in details.files if f.path == path), None)
        if file is None:
            raise HubNotFoundError(hm.FILE_NOT_FOUND, status=404, path=path, repo=details.model.repo_id,
                                   revision=details.revision)
        return file

    def kinds(self, details: HubRepoDetails) -> dict[str, FileKind]:
        """path → what the file is, read from its header by range requests (each file of a commit once)."""
        client = self.client()
        repo = details.model.repo_id
        with self._lock:
            known = {f.path: self._kinds[(repo, details.revision, f.path)] for f in details.files
                     if (repo, details.revision, f.path) in self._kinds}
        todo = [f for f in details.files if f.path not in known]
        found = probe_files(client.http, client.endpoint, todo, details.revision,
                            forge=self.host.capabilities().flavor == "forge") if todo else {}
        with self._lock:
            for path, kind in found.items():
                if not getattr(kind, "note", None):  # a failed read is tried again next time
                    self._kinds[(repo, details.revision, path)] = kind
        merged = {**known, **found}
        return {f.path: merged[f.path] for f in details.files if f.path in merged}


_services: PerHost[HubService] = PerHost(HubService)


def hub_service_for(host: Host) -> HubService:
    """The one Hub service of a host (the tab, every browser session and the routes share it)."""
    return _services(host)
