"""Glue for the UI: a Civitai file → a ``DownloadRequest`` in the right folder, and sidecars once installed.

Usage::

    queue = DownloadQueue(client, on_installed=SidecarWriter(client, max_nsfw_level=2))
    dest = model_folder(model.type, webui_root, host_overrides, subfolder, file_type=file.type)
    queue.add(request_for_file(version, file, dest, model=model))

Kept out of ``downloads/__init__`` so that the download engine never imports the library package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_workbench.civitai.coerce import NSFW_PG13
from model_workbench.civitai.types import Model, ModelFile, ModelVersion
from model_workbench.library.sidecars import SidecarReport, write_sidecars

from . import messages as msg
from .transfer import DownloadRequest, DownloadResult


@dataclass
class InstallContext:
    version: ModelVersion
    model: Model | None = None
    file: ModelFile | None = None


def request_for_file(version: ModelVersion, file: ModelFile | None, dest_dir: str | Path, *,
                     model: Model | None = None) -> DownloadRequest:
    """The request for one file of a version (its primary file when ``file`` is None)."""
    file = file or version.primary_file
    url = (file.download_url if file else None) or version.download_url
    if not url:
        raise ValueError(msg.NO_DOWNLOADABLE_FILE)
    title = f"{model.name} – {version.name}" if model else version.name
    return DownloadRequest(url=url, dest_dir=Path(dest_dir), filename=file.name if file else None,
                           sha256=file.sha256 if file else None, version_id=version.id,
                           file_id=file.id if file else None, title=title,
                           context=InstallContext(version, model, file))


class SidecarWriter:
    """``DownloadQueue(on_installed=...)``: writes preview/.json/.civitai.info beside each installed model."""

    def __init__(self, client: Any, *, max_nsfw_level: int = NSFW_PG13, preferred_weight: float = 0.0,
                 site: str = "https://civitai.com") -> None:
        self.client = client
        self.max_nsfw_level = max_nsfw_level
        self.preferred_weight = preferred_weight
        self.site = site
        self.reports: dict[Path, SidecarReport] = {}

    def __call__(self, request: DownloadRequest, result: DownloadResult) -> None:
        context = request.context
        if not isinstance(context, InstallContext):
            return
        if context.file is not None and context.file.type not in ("Model", "Pruned Model"):
            return  # a bundled VAE or config gets no cards of its own
        report = write_sidecars(result.path, context.version, context.model, fetch=self.client.fetch_bytes,
                                max_nsfw_level=self.max_nsfw_level, preferred_weight=self.preferred_weight,
                                site=self.site)
        self.reports[result.path] = report
        if report.problems:
            raise RuntimeError(" ".join(report.problems))
