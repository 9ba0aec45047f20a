"""Download queue: resume, verify by SHA256, atomic install (no gradio, no modules).

Public API: ``DownloadQueue`` (add/cancel/pause/retry/remove/snapshot/resume_partials),
``DownloadRequest``, ``DownloadOptions``, ``JobSnapshot``/``JobStatus``, ``Transfer`` for one file,
``DownloadError``. See docs/civitai.md.
"""

from .errors import DownloadError
from .filenames import filename_from_content_disposition, sanitize_filename
from .queue import DownloadQueue, JobSnapshot, JobStatus
from .state import PartState, find_partials, part_path, state_path
from .transfer import DownloadOptions, DownloadRequest, DownloadResult, Progress, Transfer, file_sha256

__all__ = [
    "DownloadError", "DownloadOptions", "DownloadQueue", "DownloadRequest", "DownloadResult", "JobSnapshot",
    "JobStatus", "PartState", "Progress", "Transfer", "file_sha256", "filename_from_content_disposition",
    "find_partials", "part_path", "sanitize_filename", "state_path",
]
