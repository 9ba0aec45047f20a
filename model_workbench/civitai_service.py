"""The Civitai tab's service layer: one object per host that the UI and the HTTP routes share.

It builds the :class:`CivitaiClient` from ``host.settings()`` (and rebuilds it when the key, base URL
or proxy change), owns the download queue (resuming partial downloads when it is created) and the
local library (data in ``host.data_dir()``, hashes reused from ``host.cached_sha256``). Everything
here is plain Python: no gradio, no WebUI ``modules``; the UI renders what it returns.

Usage::

    service = service_for(host)
    result = service.search(SearchForm(query="castle"), "first", state={})
    job_id, dest = service.download(model_id, version_id, file_id, subfolder="", filename="")
    service.queue.snapshot()
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_workbench.civitai import (
    BadResponseError,
    CivitaiClient,
    CivitaiError,
    Model,
    ModelVersion,
    NotFoundError,
    SearchQuery,
)
from model_workbench.civitai import messages as cm
from model_workbench.civitai.links import ModelLink, parse_model_link
from model_workbench.civitai.types import Enums
from model_workbench.downloads import DownloadOptions, DownloadQueue, DownloadRequest, DownloadResult
from model_workbench.downloads.civitai_install import InstallContext, SidecarWriter, request_for_file
from model_workbench.downloads.filenames import sanitize_filename, user_filename
from model_workbench.host import Host, ModelKind
from model_workbench.huggingface.types import repo_url
from model_workbench.library.folders import check_subfolder, model_folder
from model_workbench.library.local_library import LocalLibrary
from model_workbench.library.matching import (
    InstalledIndex,
    MatchReport,
    index_versions_by_sha256,
    parse_version,
)
from model_workbench.library.sidecars import (
    NO_ALLOWED_IMAGE,
    NO_READABLE_IMAGE,
    SidecarReport,
    write_sidecars,
)
from model_workbench.per_host import PerHost
from model_workbench.settings_schema import NSFW_LEVELS

# The NSFW setting's words → the highest single nsfwLevel allowed (1 PG, 2 PG-13, 4 R, 8 X, 16 XXX).
NSFW_SETTING_LEVELS = dict(zip(NSFW_LEVELS, (1, 2, 4, 8, 16), strict=True))

MSG_UNKNOWN_FILE = "Version {version_id} has no file with id {file_id}; leave file_id out for its primary file."

# Civitai model type → the host folder kind to refresh after a file lands.
TYPE_TO_HOST_KIND = {
    "checkpoint": ModelKind.CHECKPOINT, "unet": ModelKind.CHECKPOINT, "lora": ModelKind.LORA,
    "locon": ModelKind.LORA, "dora": ModelKind.LORA, "lycoris": ModelKind.LORA,
    "textualinversion": ModelKind.EMBEDDING, "hypernetwork": ModelKind.HYPERNETWORK, "vae": ModelKind.VAE,
    "controlnet": ModelKind.CONTROLNET, "upscaler": ModelKind.UPSCALER,
}

# WebUI's hash-cache title prefixes (see library.kinds) → the host's kinds, for host.cached_sha256.
_TITLE_PREFIX_TO_KIND = {"checkpoint": ModelKind.CHECKPOINT, "lora": ModelKind.LORA,
                         "textual_inversion": ModelKind.EMBEDDING, "hypernet": ModelKind.HYPERNETWORK}




def nsfw_level_from_setting(value: str) -> int:
    return NSFW_SETTING_LEVELS.get(value, 2)


@dataclass
class SearchForm:
    """The search box and filters as plain data (what a ``gr.State`` may hold)."""

    query: str = ""
    types: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    sort: str = "Highest Rated"
    period: str = "AllTime"
    nsfw_level: int = 2
    hide_installed: bool = False
    limit: int = 20

    def to_query(self) -> SearchQuery:
        text = self.query.strip()
        tag = username = None
        # "#anime" searches a tag and "@someone" a creator, as on the site and in StabilityMatrix.
        if text.startswith("#") and len(text) > 1:
            tag, text = text[1:].strip(), ""
        elif text.startswith("@") and len(text) > 1:
            username, text = text[1:].strip(), ""
        return SearchQuery(query=text, types=list(self.types), base_models=list(self.base_models),
                           sort=self.sort or None, period=self.period or None, tag=tag, username=username,
                           limit=self.limit, max_nsfw_level=self.nsfw_level)


@dataclass
class SearchResult:
    models: list[Model]
    state: dict  # plain data: form, visited page URLs (None = first page), the next page's URL
    hidden_installed: int = 0

    @property
    def page_number(self) -> int:
        return len(self.state.get("urls") or [])

    @property
    def can_go_back(self) -> bool:
        return self.page_number > 1

    @property
    def can_go_next(self) -> bool:
        return bool(self.state.get("next"))


@dataclass
class DownloadPlan:
    """Where a file of a version would go, before the user confirms."""

    folder: Path
    subfolder: str
    filename: str
    kind: ModelKind


class CivitaiService:
    """Client, download queue and library for one host. Thread-safe; gradio handlers call it from workers."""

    def __init__(self, host: Host, *, download_options: DownloadOptions | None = None,
                 client_kwargs: dict[str, Any] | None = None, resume_partials: bool = True) -> None:
        self.host = host
        self._lock = threading.RLock()
        self._client: CivitaiClient | None = None
        self._client_key: tuple[str, str, str] | None = None
        self._client_kwargs = dict(client_kwargs or {})
        self._download_options = download_options or DownloadOptions(connections=4)
        self._queue: DownloadQueue | None = None
        self._library: LocalLibrary | None = None
        self._library_scanned = False
        self._sidecars: SidecarWriter | None = None
        self._resume_partials = resume_partials
        self._models: OrderedDict[int, tuple[float, Model]] = OrderedDict()
        self._versions: OrderedDict[int, tuple[float, ModelVersion]] = OrderedDict()
        self.hash_task: Any = None
        self.library_cancel = threading.Event()
        self.landed: list[tuple[Path, ModelKind]] = []  # files installed by the queue, newest last
        # More work after a file lands (the Hub's sidecars: its files share this queue); errors are reported alike.
        self.install_hooks: list[Callable[[DownloadRequest, DownloadResult], None]] = []
        self.hub_checks: dict[str, dict[str, Any]] = {}  # path → the Hub service's newer-revision check

    # -- settings and client -----------------------------------------------------------------
    @property
    def settings(self) -> Any:
        return self.host.settings()

    @property
    def max_nsfw_level(self) -> int:
        return nsfw_level_from_setting(self.settings.nsfw_level)

    @property
    def site_url(self) -> str:
        """The Civitai site for "open on Civitai" links (the configured base URL)."""
        return (self.settings.civitai_base_url or "https://civitai.com").rstrip("/")

    @property
    def has_api_key(self) -> bool:
        return bool(self.settings.civitai_api_key)

    def client(self) -> CivitaiClient:
        """The client for the current settings; a new one when the base URL, key or proxy changed."""
        s = self.settings
        key = (s.civitai_base_url, s.civitai_api_key, s.proxy)
        with self._lock:
            if self._client is None or key != self._client_key:
                enums_file = Path(self.host.data_dir()) / "civitai-enums.json"
                self._client = CivitaiClient(s.civitai_base_url or "https://civitai.com",
                                             api_key=s.civitai_api_key or None, proxy=s.proxy or None,
                                             enums_cache_file=enums_file, **self._client_kwargs)
                self._client_key = key
                self._models.clear()
                self._versions.clear()
                if self._queue is not None:
                    self._queue.client = self._client  # jobs started from now on use the new key
                if self._sidecars is not None:
                    self._sidecars.client = self._client
                # The old client is not closed: jobs already running keep using it until they end.
            return self._client

    def enums(self) -> Enums:
        return self.client().get_enums()

    # -- search --------------------------------------------------------------------------------
    def search(self, form: SearchForm, direction: str = "first", state: dict | None = None) -> SearchResult:
        """``direction``: "first", "next" or "back". ``state`` is the previous result's plain-data state."""
        client = self.client()
        state = dict(state or {})
        if direction == "first" or not state.get("form"):
            state = {"form": asdict(form), "urls": [None], "next": None}
        form = SearchForm(**state["form"])
        link = parse_model_link(form.query, extra_sites=[self.site_url])
        if link is not None:
            return self._open_link(form, link)
        query = form.to_query()
        urls: list[str | None] = list(state.get("urls") or [None])
        if direction == "next" and state.get("next"):
            urls.append(state["next"])
        elif direction == "back" and len(urls) > 1:
            urls.pop()
        url = urls[-1]
        page = client.search(query) if url is None else client.get_page(url, query)
        next_url = None
        if page.has_more:
            next_url = page.next_page or _with_cursor(client, query, page.next_cursor or "")
        models = list(page.items)
        hidden = 0
        if form.hide_installed:
            index = self.installed()
            kept = [m for m in models if not index.has_model(m.id)]
            hidden = len(models) - len(kept)
            models = kept
        with self._lock:
            for m in models:
                self._remember(self._models, m.id, m)
        return SearchResult(models, {"form": asdict(form), "urls": urls, "next": next_url}, hidden)

    def _open_link(self, form: SearchForm, link: ModelLink) -> SearchResult:
        """A pasted model link or AIR: that model as the only result; ``state["open"]`` says which version to show."""
        version_id = link.version_id
        model_id = link.model_id
        if model_id is None and version_id is not None:
            model_id = self.version(version_id).model_id  # a download URL names only the version
            if model_id is None:
                raise BadResponseError(cm.NO_MODEL_OF_VERSION)
        model = self.model(int(model_id or 0))
        state = {"form": asdict(form), "urls": [None], "next": None, "open": f"{model.id}:{version_id or ''}"}
        return SearchResult([model], state)

    # -- model details -------------------------------------------------------------------------
    def model(self, model_id: int, fresh: bool = False) -> Model:
        """The full model (from the model endpoint; cached a few minutes)."""
        with self._lock:
            hit = self._models.get(int(model_id))
            if hit and not fresh and hit[1].raw.get("_mw_full") and time.monotonic() - hit[0] < 300:
                return hit[1]
        model = self.client().get_model(int(model_id))
        model.raw["_mw_full"] = True
        with self._lock:
            self._remember(self._models, model.id, model)
        return model

    def version(self, version_id: int) -> ModelVersion:
        """A version from its own endpoint: its images carry ``meta`` (generation parameters)."""
        with self._lock:
            hit = self._versions.get(int(version_id))
            if hit and time.monotonic() - hit[0] < 300:
                return hit[1]
        version = self.client().get_version(int(version_id))
        with self._lock:
            self._remember(self._versions, version.id, version)
        return version

    def example_images(self, version: ModelVersion, limit: int = 12) -> list:
        """Images with generation parameters: the version's own, else ``/images?withMeta=true``."""
        images = [i for i in version.images if i.nsfw_level <= self.max_nsfw_level]
        if any(i.meta for i in images):
            return images[:limit]
        try:
            page = self.client().get_images(version.id, limit=limit, nsfw=self.max_nsfw_level > 2)
        except CivitaiError:
            return images[:limit]
        extra = [i for i in page.items if i.nsfw_level <= self.max_nsfw_level]
        return (extra or images)[:limit]

    @staticmethod
    def _remember(cache: OrderedDict, key: int, value: Any, size: int = 200) -> None:
        cache[key] = (time.monotonic(), value)
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)

    # -- folders and downloads -----------------------------------------------------------------
    def folder_overrides(self) -> tuple[Path, dict[str, Path]]:
        """(WebUI root, folder overrides) for ``library.folders.model_folder`` from the host's folders."""
        folders = self.host.model_folders()
        overrides = {kind.value: paths[0] for kind, paths in folders.items() if paths}
        # LoCon goes to the LoRA folder (WebUI ≥1.5 loads it there) unless the user chose a LyCORIS folder.
        if "lycoris" not in self.settings.folder_overrides:
            overrides.pop(ModelKind.LYCORIS.value, None)
        other = folders.get(ModelKind.OTHER) or folders.get(ModelKind.CHECKPOINT) or [Path(self.host.data_dir())]
        root = Path(other[0]).parent.parent  # models/Other → the WebUI root
        return root, overrides

    def default_subfolder(self, version: ModelVersion) -> str:
        # One folder named after the base model, made legal (the name comes from Civitai, not the user).
        return sanitize_filename(version.base_model or "", "") if self.settings.use_subfolders else ""

    def plan(self, model: Model, version: ModelVersion, file_id: int | None, subfolder: str | None = None,
             filename: str | None = None) -> DownloadPlan:
        file = version.file_by_id(file_id) if file_id else version.primary_file
        if subfolder is None:
            subfolder = self.default_subfolder(version)
        return self.plan_in_folders(model.type, file.name if file else "", subfolder, filename,
                                    file_type=file.type if file else None)

    def plan_in_folders(self, model_type: str, original_name: str, subfolder: str, filename: str | None = None,
                        file_type: str | None = None) -> DownloadPlan:
        """Where a file of ``model_type`` goes, whichever source it comes from: the host's folder for its kind,
        a subfolder (refused with a sentence rather than silently rewritten) and the user's file name."""
        sub = check_subfolder(subfolder)
        name = user_filename(filename, original_name)
        root, overrides = self.folder_overrides()
        folder = model_folder(model_type, root, overrides, subfolder=str(sub or ""), file_type=file_type)
        return DownloadPlan(folder, str(sub or ""), name, self._kind_of(folder, model_type))

    def download(self, model_id: int, version_id: int, file_id: int | None = None, subfolder: str | None = None,
                 filename: str | None = None) -> tuple[str, Path]:
        """Queue a file; returns (job id, the path it will have). Raises ValueError/CivitaiError with a message."""
        self.client()  # a key saved since the model was cached reaches the queue before this job starts
        model = self.model(model_id)
        version = next((v for v in model.versions if v.id == int(version_id)), None) or self.version(version_id)
        file = version.file_by_id(int(file_id)) if file_id else version.primary_file
        if file_id and file is None:  # never silently the primary file instead of the one asked for
            raise ValueError(MSG_UNKNOWN_FILE.format(version_id=version.id, file_id=file_id))
        plan = self.plan(model, version, file.id if file else None, subfolder, filename)
        request = request_for_file(version, file, plan.folder, model=model)
        if plan.filename:
            request.filename = plan.filename
        job_id = self.queue.add(request)
        return job_id, plan.folder / (request.filename or "")

    def download_version(self, version_id: int, file_id: int | None = None, subfolder: str | None = None,
                         filename: str | None = None) -> tuple[str, Path]:
        """:meth:`download` knowing only the version (the HTTP API's form)."""
        version = self.version(version_id)
        if version.model_id is None:
            raise ValueError(cm.NO_MODEL_OF_VERSION)
        return self.download(version.model_id, version_id, file_id, subfolder, filename)

    @property
    def queue(self) -> DownloadQueue:
        with self._lock:
            if self._queue is None:
                client = self.client()
                self._sidecars = SidecarWriter(client, max_nsfw_level=self.max_nsfw_level, site=self.site_url)
                self._queue = DownloadQueue(client, options=self._download_options, on_installed=self._installed)
                if self._resume_partials:
                    folders = [p for paths in self.host.model_folders().values() for p in paths]
                    self._queue.resume_partials(folders, source_for=self._resume_source)
            return self._queue

    def _resume_source(self, url: str) -> Any | None:
        """The source a part left by an earlier run resumes through: a Hub file's goes through the Hub's
        client (its token, its sentences); None, the queue's own client, for Civitai's."""
        from model_workbench.hub_service import hub_service_for  # imported here: the Hub service imports this

        return hub_service_for(self.host).resume_source(url)

    def _installed(self, request: DownloadRequest, result: DownloadResult) -> None:
        """After a file lands: sidecars, remember it as installed, and make the host list it."""
        error: Exception | None = None
        context = request.context
        if self._sidecars is not None:
            # The settings may have changed since the queue was made.
            self._sidecars.max_nsfw_level, self._sidecars.site = self.max_nsfw_level, self.site_url
            try:
                self._sidecars(request, result)
            except Exception as exc:  # noqa: BLE001 - reported by the queue after the refresh below
                report = self._sidecars.reports.get(result.path)
                # A version whose only previews are videos (or above the content level) simply gets no
                # preview: that is the rule working, not a failure to report.
                if report is None or not set(report.problems) <= {NO_ALLOWED_IMAGE, NO_READABLE_IMAGE}:
                    error = exc
        for hook in list(self.install_hooks):
            try:
                hook(request, result)
            except Exception as exc:  # noqa: BLE001 - reported by the queue after the refresh below
                error = exc
        model_type = ""
        if isinstance(context, InstallContext):
            model_type = (context.model.type if context.model else None) or \
                (context.version.model.type if context.version.model else "")
            self._remember_installed(result, context.version)
        kind = self._kind_of(result.path.parent, model_type)
        try:
            self.host.refresh_models(kind)
        except Exception:  # noqa: BLE001 - the file is installed; a failed refresh only needs a manual one
            pass
        with self._lock:
            self.landed.append((result.path, kind))
        if error is not None:
            raise error

    def _remember_installed(self, result: DownloadResult, version: ModelVersion) -> None:
        # The download was verified against this SHA256: give the library its hash and its match now,
        # so "installed" badges show without a rescan or a rehash.
        library = self.library
        try:
            st = result.path.stat()
            sha = result.sha256.lower()
            library.hash_cache.put(str(result.path), st.st_size, st.st_mtime_ns, sha, st.st_ino, st.st_dev)
            library.hash_cache.save()
            match = parse_version(sha, version.raw, time.time())
            if match is not None:
                library.match_store.put(match)
                library.match_store.save()
        except (OSError, ValueError):
            pass
        with self._lock:
            self._library_scanned = False

    def _kind_of(self, folder: Path, model_type: str) -> ModelKind:
        """The host kind whose folder holds ``folder`` (else the one the Civitai type implies)."""
        folder = Path(folder).resolve()
        best: tuple[int, ModelKind] | None = None
        for kind, paths in self.host.model_folders().items():
            for p in paths:
                try:
                    depth = len(folder.relative_to(Path(p).resolve()).parts)
                except ValueError:
                    continue
                if best is None or depth < best[0]:
                    best = (depth, kind)
        if best is not None:
            return best[1]
        return TYPE_TO_HOST_KIND.get("".join(ch for ch in model_type.lower() if ch.isalpha()), ModelKind.OTHER)

    # -- library -------------------------------------------------------------------------------
    @property
    def library(self) -> LocalLibrary:
        with self._lock:
            if self._library is None:
                data = Path(self.host.data_dir()) / "library"
                data.mkdir(parents=True, exist_ok=True)
                self._library = LocalLibrary(str(data), folders=self._library_folders,
                                             external_hash_lookup=self._host_hash)
            return self._library

    def _library_folders(self) -> dict[str, list[str]]:
        folders = self.host.model_folders()
        lora = [str(p) for p in folders.get(ModelKind.LORA, [])] + [str(p) for p in folders.get(ModelKind.LYCORIS, [])]
        return {
            "checkpoint": [str(p) for p in folders.get(ModelKind.CHECKPOINT, [])],
            "lora": lora,
            "embedding": [str(p) for p in folders.get(ModelKind.EMBEDDING, [])],
            "hypernetwork": [str(p) for p in folders.get(ModelKind.HYPERNETWORK, [])],
            "vae": [str(p) for p in folders.get(ModelKind.VAE, [])],
        }

    def _host_hash(self, path: str, title: str | None) -> str | None:
        kind = _TITLE_PREFIX_TO_KIND.get((title or "").split("/", 1)[0])
        if kind is None:
            return None
        return self.host.cached_sha256(kind, Path(path))

    def installed(self) -> InstalledIndex:
        """Which Civitai models/versions are on disk (a quick scan the first time: one stat per file)."""
        library = self.library
        with self._lock:
            scanned = self._library_scanned
            self._library_scanned = True
        if not scanned:
            library.scan()
        return library.installed_index()

    def scan_library(self) -> Any:
        result = self.library.scan()
        with self._lock:
            self._library_scanned = True
        return result

    def hash_library(self, progress: Callable[[Any], None] | None = None) -> Any:
        """Start hashing every unhashed model in the background; returns the task (``cancel()``, ``done``)."""
        self.library_cancel.clear()
        self.hash_task = self.library.start_hashing(progress=progress)
        return self.hash_task

    def cancel_library(self) -> None:
        self.library_cancel.set()
        task = self.hash_task
        if task is not None:
            task.cancel()

    def match_library(self, force: bool = False) -> MatchReport:
        client = self.client()

        def lookup(hashes: list[str]) -> dict:
            return index_versions_by_sha256(v.raw for v in client.get_versions_by_hashes(hashes))

        def model_versions(model_id: int) -> list[dict] | None:
            try:
                model = self.model(model_id, fresh=True)
            except NotFoundError:
                return None  # removed from Civitai: recorded once by the matcher
            return [v.raw for v in model.versions]  # with the Early Access and paid fields

        return self.library.match(lookup, model_versions, force=force, cancel=self.library_cancel,
                                  skip_early_access=self.settings.updates_skip_early_access)

    def fill_sidecars(self, versions: dict[str, Any] | None = None) -> Iterator[tuple[str, SidecarReport]]:
        """Write the missing preview/.json/.civitai.info of matched models (never over a user's file).

        ``versions`` maps SHA256 → the raw by-hash answer (a MatchReport's ``versions``); the ones
        not given are asked for again in bulk.
        """
        library = self.library
        needs = library.sidecar_needs()
        if not needs:
            return
        versions = {k.lower(): v for k, v in (versions or {}).items()}
        missing = [n.match.sha256 for n in needs if n.match.sha256 not in versions]
        if missing:
            client = self.client()
            versions.update(index_versions_by_sha256(v.raw for v in client.get_versions_by_hashes(missing)))
        client = self.client()
        for need in needs:
            if self.library_cancel.is_set():
                return
            raw = versions.get(need.match.sha256)
            if not raw:
                continue
            version = ModelVersion.from_json(raw)
            model = None
            try:
                model = self.model(need.match.model_id)
            except CivitaiError:
                pass  # the description then comes from the version
            report = write_sidecars(need.record.path, version, model, fetch=client.fetch_bytes,
                                    max_nsfw_level=self.max_nsfw_level, site=self.site_url)
            yield need.record.path, report

    def library_rows_if_scanned(self) -> list[dict[str, Any]] | None:
        """The table of the last scan, or None before the first one (a page load never starts a scan)."""
        with self._lock:
            scanned = self._library is not None and self._library_scanned
        return self.library_rows() if scanned else None

    def library_rows(self) -> list[dict[str, Any]]:
        rows = self.library.rows(self.site_url)
        for row in rows:
            row["preferred_weight"] = _preferred_weight(row["path"])
            if row.get("hub"):  # the repo's page on the endpoint in use, and the last newer-revision check
                row["hub"] = {**row["hub"], "url": repo_url(self.settings.hf_endpoint, row["hub"]["repo_id"]),
                              **self.hub_checks.get(row["path"], {})}
        return rows

    def close(self) -> None:
        if self._queue is not None:
            self._queue.shutdown()
        if self._client is not None:
            self._client.close()


def _with_cursor(client: CivitaiClient, query: SearchQuery, cursor: str) -> str:
    import httpx

    params = [(k, v) for k, v in query.params() if k != "cursor"] + [("cursor", cursor)]
    return str(httpx.URL(client.url("/api/v1/models"), params=params))


def _preferred_weight(model_path: str) -> float:
    """WebUI's "preferred weight" from a model's ``.json`` sidecar (0 = WebUI's default)."""
    import json

    try:
        data = json.loads(Path(model_path).with_suffix(".json").read_text(encoding="utf-8"))
        return float(data.get("preferred weight") or 0.0)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


_services: PerHost[CivitaiService] = PerHost(CivitaiService)


def service_for(host: Host) -> CivitaiService:
    """The one service of a host (the tab, every browser session and the routes share its queue)."""
    return _services(host)
