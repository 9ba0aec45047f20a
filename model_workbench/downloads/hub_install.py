"""Glue for the UI: a Hub file → a ``DownloadRequest`` in the folder for its kind, and sidecars once installed.

Usage (one queue for both sources; the Hub request carries its own source)::

    http, _ = make_http_client(endpoint, token, proxy=proxy)
    dest = hub_folder(kind, webui_root, host_overrides, subfolder)          # the user may change kind/folder
    queue.add(request_for_hub_file(details, file, kind, dest, endpoint=endpoint, http=http))
    # DownloadQueue(on_installed=...) calls HubSidecarWriter(http, endpoint) for Hub requests

The URL is ``resolve`` at the listing's commit sha, not "main", so the bytes are the ones the LFS SHA256
was listed for; the engine verifies them against it (a non-LFS file has none: installed unverified, as a
Civitai file without hashes). The token reaches only the endpoint: the client's origin hook runs on every
request and every redirect hop, and the storage origin a ``resolve`` redirects to is another origin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

import httpx

from model_workbench.civitai import errors as e
from model_workbench.civitai.client import ResolvedDownload
from model_workbench.huggingface import file_messages as m
from model_workbench.huggingface.responses import strip_front_matter
from model_workbench.huggingface.types import FileKind, HubFile, HubRepoDetails, repo_url, resolve_url
from model_workbench.library.folders import model_folder
from model_workbench.library.hub_record import HF_INFO_SUFFIX, HubRecord
from model_workbench.library.sidecars import (
    SidecarReport,
    html_to_text,
    to_png,
    webui_user_metadata,
    write_json_sidecar,
    write_preview_png,
)

from .transfer import DownloadRequest, DownloadResult

# FileKind.family → WebUI's ``sd version`` (the only values its metadata editor knows)
_SD_VERSION = {"sd1": "SD1", "sd2": "SD2", "sdxl": "SDXL"}


@dataclass
class HubInstallContext:
    details: HubRepoDetails
    file: HubFile
    kind: FileKind
    endpoint: str


class HubDownloadSource:
    """What the download engine needs from a source: ``resolve_download(url)`` and ``.http``.

    ``resolve`` at the endpoint answers 302 to a signed storage URL (or 200 with the bytes for a small
    non-LFS file); asked afresh before every attempt, so an expired signature never stops a resume.
    """

    source_name = "Hugging Face"  # what the download engine's sentences call this source (a mirror too)

    def __init__(self, http: httpx.Client, endpoint: str) -> None:
        self.http = http
        self.endpoint = endpoint.rstrip("/")

    def owns(self, url: str) -> bool:
        """True for a ``resolve`` URL of this endpoint (``DownloadQueue.resume_partials(source_for=…)``)."""
        return url.startswith(self.endpoint + "/") and "/resolve/" in url

    def resolve_download(self, url: str) -> ResolvedDownload:
        name = url.rsplit("/", 1)[-1]
        try:
            response = self.http.send(self.http.build_request("GET", url, headers={"Accept": "*/*"}),
                                      follow_redirects=False, stream=True)
        except httpx.HTTPError:
            raise e.UnavailableError(m.MSG_PROBE_UNREACHABLE.format(name=name)) from None
        try:
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                return ResolvedDownload(urljoin(str(response.url), response.headers["Location"]), redirected=True)
            if status == 200:
                return ResolvedDownload(str(response.url), redirected=False)  # an HTML page is caught by the engine
            raise _status_error(status, name)
        finally:
            response.close()


def _status_error(status: int, name: str) -> e.CivitaiError:
    # The engine knows the Civitai error classes (which are retryable, which need the user): reuse them.
    if status == 401:
        return e.AuthRequiredError(m.MSG_PROBE_GATED.format(name=name, status=status), status=status)
    if status == 403:
        return e.ForbiddenError(m.MSG_PROBE_GATED.format(name=name, status=status), status=status)
    if status == 404:
        return e.NotFoundError(m.MSG_PROBE_NOT_FOUND.format(name=name), status=status)
    if status == 429:
        return e.RateLimitedError(m.MSG_PROBE_RATE_LIMITED.format(name=name), status=status)
    return e.UnavailableError(m.MSG_PROBE_STATUS.format(name=name, status=status), status=status)


def hub_folder(kind: FileKind | str, webui_root: str | Path, overrides: Mapping[str, str | Path] | None = None,
               subfolder: str | None = None) -> Path:
    """The folder for a file of this kind, by the same rules (and host overrides) as a Civitai install;
    an unknown kind goes to ``models/Other``."""
    kind_name = kind.kind if isinstance(kind, FileKind) else kind
    return model_folder(kind_name or "other", webui_root, overrides, subfolder)


def request_for_hub_file(details: HubRepoDetails, file: HubFile, kind: FileKind, dest_dir: str | Path, *,
                         endpoint: str, http: httpx.Client, filename: str | None = None) -> DownloadRequest:
    """The request for one Hub file, at the commit it was listed at, verified against its LFS SHA256."""
    revision = file.revision or details.revision
    return DownloadRequest(url=resolve_url(endpoint, file.repo_id, revision, file.path), dest_dir=Path(dest_dir),
                           filename=filename or file.name, sha256=(file.sha256 or "").upper() or None,
                           title=f"{file.repo_id} – {file.path}",
                           context=HubInstallContext(details, file, kind, endpoint),
                           source=HubDownloadSource(http, endpoint))


class HubSidecarWriter:
    """``DownloadQueue(on_installed=...)`` for Hub files: ``<name>.json``, ``<name>.preview.png``, ``<name>.hf.json``.

    Requests of other sources are left alone (the Civitai writer handles its own)."""

    def __init__(self, http: httpx.Client, *, clock=lambda: datetime.now(timezone.utc)) -> None:
        self.http = http
        self.clock = clock
        self.reports: dict[Path, SidecarReport] = {}

    def __call__(self, request: DownloadRequest, result: DownloadResult) -> None:
        context = request.context
        if not isinstance(context, HubInstallContext):
            return
        report = write_hub_sidecars(result.path, context, fetch=self._fetch, sha256=result.sha256 if
                                    context.file.sha256 else None, installed_at=self.clock())
        self.reports[result.path] = report
        if report.problems:
            raise RuntimeError(" ".join(report.problems))

    def _fetch(self, url: str) -> bytes:
        response = self.http.get(url, headers={"Accept": "image/*"})
        response.raise_for_status()
        return response.content


def hub_user_metadata(context: HubInstallContext) -> dict:
    """WebUI's ``<name>.json`` for a Hub file: trigger words, sd version, the card's text, the repo page."""
    url = repo_url(context.endpoint, context.file.repo_id)
    return webui_user_metadata(card_text(context.details.card_markdown), url,
                               sd_version=_SD_VERSION.get(context.kind.family, "Unknown"),
                               activation_text=context.details.trigger_words, notes=[f"Hugging Face: {url}"])


def card_text(markdown: str) -> str:
    """The card as plain text: no YAML front matter, no images, links as their text, no HTML tags."""
    text = strip_front_matter(markdown or "")
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return html_to_text(text.replace("\n", "<br>"))


def write_hub_sidecars(model_path: str | Path, context: HubInstallContext, *, fetch, sha256: str | None,
                       installed_at: datetime) -> SidecarReport:
    """The three sidecars beside an installed Hub file; existing files are left as they are."""
    path = Path(model_path)
    report = SidecarReport()
    write_json_sidecar(path, ".json", hub_user_metadata(context), report)
    record = HubRecord(repo_id=context.file.repo_id, revision=context.file.revision or context.details.revision,
                       path=context.file.path, sha256=sha256.lower() if sha256 else None, size=context.file.size,
                       installed_at=installed_at.isoformat(timespec="seconds"))
    write_json_sidecar(path, HF_INFO_SUFFIX, record.to_dict(), report)
    preview = context.details.preview_path
    if preview:
        url = resolve_url(context.endpoint, context.file.repo_id, record.revision, preview)
        try:
            write_preview_png(path, to_png(fetch(url)), report)
        except ValueError:
            report.problems.append(m.MSG_PREVIEW_UNREADABLE.format(name=preview))
        except Exception:  # noqa: BLE001 - a preview is optional; the reason is reported
            report.problems.append(m.MSG_PREVIEW_FAILED.format(name=preview))
    return report
