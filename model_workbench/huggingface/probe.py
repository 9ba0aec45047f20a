"""What a Hub file is, read from its safetensors header with one or two small range requests — never the whole file.

A safetensors file starts with an 8-byte little-endian length N and N bytes of JSON (tensor names,
shapes, metadata): a few hundred KB even for a 7 GB checkpoint. The first request asks for the first
128 KiB, which holds the whole header of most LoRAs and SD1.5 checkpoints, so one round trip is usually
enough; when N is larger, a second request asks for the rest. It goes straight to the URL the first one
was redirected to
(the storage origin's signed URL), which saves a round trip to the endpoint and never carries the
token (the client's origin hook sends it only to the endpoint). A server that ignores ``Range`` and
answers 200 with the whole file is read only as far as the header, then the stream is closed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpx

from model_workbench.library.file_kinds import (
    MODEL_FILE_EXTENSIONS,
    classify_by_name,
    classify_header,
    diffusers_component_paths,
    diffusers_folder_kind,
)
from model_workbench.library.safetensors_header import HeaderError, header_from_mapping, parse_header_json

from . import file_messages as m
from .byte_range import BodyReader, range_body, range_headers
from .types import FileKind, HubFile, resolve_url

# The largest real headers (Flux, SD3.5 with every key) are a few MB; 16 MiB is far above any model's.
MAX_REMOTE_HEADER_BYTES = 16 << 20
# The first range request: the whole header of most LoRAs (~90 KB for SD1.5) and SD1.5 checkpoints.
FIRST_READ_BYTES = 128 << 10
PROBE_WORKERS = 6  # enough to hide round trips, few enough not to look like a flood to a mirror
SAFETENSORS_EXTENSIONS = (".safetensors", ".sft")
# A zip (torch.save since 1.6), a bare pickle, GGUF: files named .safetensors that are not.
_OTHER_FORMATS = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"GGUF")


class ProbeError(Exception):
    """``str(err)`` is a sentence for the user (HTTP status, an HTML page, not safetensors …)."""


def read_safetensors_header(http: httpx.Client, url: str, *, max_header_bytes: int = MAX_REMOTE_HEADER_BYTES) -> dict:
    """The parsed JSON header of the safetensors file at ``url`` (``__metadata__`` included); ``ProbeError``
    with a sentence when it cannot be read."""
    name = url.rsplit("/", 1)[-1] or url
    prefix, rest, final_url = _read_prefix(http, url, name, max_header_bytes)
    length = _header_length(prefix, name, max_header_bytes)
    if len(rest) == FIRST_READ_BYTES - 8 < length:  # a header longer than the first read: ask for the rest
        rest += _read_range(http, final_url, FIRST_READ_BYTES, length - len(rest), name)
    if len(rest) < length:
        raise ProbeError(m.MSG_PROBE_SHORT.format(name=name))
    try:
        return parse_header_json(rest[:length])
    except HeaderError:
        raise ProbeError(m.MSG_PROBE_NOT_SAFETENSORS.format(name=name)) from None


def probe_files(http: httpx.Client, endpoint: str, files: Iterable[HubFile], revision: str | None = None, *,
                forge: bool = False, workers: int = PROBE_WORKERS) -> dict[str, FileKind]:
    """path → FileKind for every model file among ``files`` (other files — README, images, configs — are
    left out). safetensors headers are read concurrently; pickles are guessed by name and size; the weight
    files of a diffusers folder layout are marked as such without being read."""
    files = list(files)
    components = diffusers_component_paths([f.path for f in files])
    kinds: dict[str, FileKind] = {}
    to_read: list[HubFile] = []
    for file in files:
        lower = file.path.lower()
        if not lower.endswith(MODEL_FILE_EXTENSIONS):
            continue
        if file.path in components:
            kinds[file.path] = diffusers_folder_kind()
        elif lower.endswith(SAFETENSORS_EXTENSIONS):
            to_read.append(file)
        else:
            kinds[file.path] = classify_by_name(file.path, file.size)

    def probe(file: HubFile) -> FileKind:
        url = resolve_url(endpoint, file.repo_id, revision or file.revision, file.path)
        try:
            return classify_header(header_from_mapping(read_safetensors_header(http, url)), forge=forge)
        except ProbeError as exc:
            return FileKind(note=str(exc))

    if to_read:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(to_read))), thread_name_prefix="mw-hf-probe") as pool:
            for file, kind in zip(to_read, pool.map(probe, to_read), strict=True):
                kinds[file.path] = kind
    return {f.path: kinds[f.path] for f in files if f.path in kinds}  # the repo's order


# -- the requests --------------------------------------------------------------------------------------

def _read_prefix(http: httpx.Client, url: str, name: str, max_header_bytes: int) -> tuple[bytes, bytes, str]:
    """(the first 8 bytes, as much of the header as the first answer held, the final URL)."""
    with _stream(http, url, 0, FIRST_READ_BYTES - 1, name) as response:
        check_status(response, name)
        final_url = str(response.url)
        body = BodyReader(response)
        head = body.read(8)
        length = _header_length(head, name, max_header_bytes)
        if response.status_code == 206:
            return head, body.read(min(length, FIRST_READ_BYTES - 8)), final_url
        # 200: the server ignored Range. Read the header and close the rest unread.
        return head, body.read(length), final_url


def _read_range(http: httpx.Client, url: str, start: int, length: int, name: str) -> bytes:
    with _stream(http, url, start, start + length - 1, name) as response:
        check_status(response, name)
        return range_body(response, start, length)


class _stream:
    """``http.stream`` of a byte range, with connection failures as a sentence."""

    def __init__(self, http: httpx.Client, url: str, start: int, end: int, name: str) -> None:
        self._cm = http.stream("GET", url, headers=range_headers(start, end))
        self.name = name

    def __enter__(self) -> httpx.Response:
        try:
            return self._cm.__enter__()
        except (httpx.TransportError, httpx.TooManyRedirects):
            raise ProbeError(m.MSG_PROBE_UNREACHABLE.format(name=self.name)) from None

    def __exit__(self, *exc: object) -> None:
        try:
            self._cm.__exit__(*exc)
        except httpx.TransportError:
            pass


def check_status(response: httpx.Response, name: str) -> None:
    """A sentence (``ProbeError``) for any answer other than the file or a part of it."""
    status = response.status_code
    if status in (401, 403):
        raise ProbeError(m.MSG_PROBE_GATED.format(name=name, status=status))
    if status == 404:
        raise ProbeError(m.MSG_PROBE_NOT_FOUND.format(name=name))
    if status == 429:
        raise ProbeError(m.MSG_PROBE_RATE_LIMITED.format(name=name))
    if status not in (200, 206):
        raise ProbeError(m.MSG_PROBE_STATUS.format(name=name, status=status))
    if "html" in response.headers.get("Content-Type", "").lower():
        raise ProbeError(m.MSG_PROBE_HTML.format(name=name))


def _header_length(prefix: bytes, name: str, max_header_bytes: int) -> int:
    if prefix.lstrip()[:1] == b"<":
        raise ProbeError(m.MSG_PROBE_HTML.format(name=name))
    if len(prefix) < 8 or prefix.startswith(_OTHER_FORMATS):
        raise ProbeError(m.MSG_PROBE_NOT_SAFETENSORS.format(name=name))
    (length,) = struct.unpack("<Q", prefix)
    if length < 2:
        raise ProbeError(m.MSG_PROBE_NOT_SAFETENSORS.format(name=name))
    if length > max_header_bytes:
        if length > 100 << 20:  # beyond what safetensors itself allows: not a header at all
            raise ProbeError(m.MSG_PROBE_NOT_SAFETENSORS.format(name=name))
        raise ProbeError(m.MSG_PROBE_HEADER_TOO_BIG.format(name=name, size=length >> 20, limit=max_header_bytes >> 20))
    return length
