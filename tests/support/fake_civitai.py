"""A faithful fake Civitai: a real threaded HTTP/1.1 server on 127.0.0.1 (ephemeral ports).

Used by the unit tests, the e2e tests and the benchmarks. Nothing here touches the internet.

Quick start::

    from tests.support.fake_civitai import FakeCivitai

    with FakeCivitai(api_key="test-key") as srv:
        srv.url                       # "http://127.0.0.1:<port>": the API origin (give it to CivitaiClient)
        srv.storage_url               # a second listener: the signed-URL "storage host" (another origin)
        f = srv.add_file(data=b"weights", name="castle.safetensors", model_type="LORA")
        big = srv.add_file(size=64 << 20)  # a generated file of N bytes on disk (benchmarks)
        f.version_id, f.model_id, f.sha256, f.size, f.download_url, f.version_json()
        srv.faults.throttle_bps = 1_000_000       # per connection, storage route
        srv.faults.reset()
        srv.requests                              # every request seen: RecordedRequest(listener, method, path, query, headers)

Routes (API origin; every URL in a JSON answer is rewritten to the server's own origin):

- ``GET /api/v1/models``: filters ``types`` (repeatable), ``baseModels``, ``query``, ``tag``, ``username``,
  ``ids``, ``nsfw``; ``limit`` (>100 → 400 ZodError), ``page`` (``page*limit>1000`` → 429; with ``query`` → 400),
  ``cursor`` (opaque; wins over ``page``); ``metadata.nextCursor``/``nextPage`` built from the request's origin
  and query string, absent on the last page; ``currentPage``/``pageSize`` only for page requests.
- ``GET /api/v1/models/{id}``: 400 for a bad id, 404 ``No model with id N``; Archived/TakenDown/empty-versions
  variants (see ``fake_civitai_data``).
- ``GET /api/v1/model-versions/{id}``, ``GET /api/v1/model-versions/by-hash/{hash}`` (case-insensitive, any
  hash kind), ``POST /api/v1/model-versions/by-hash`` (a JSON array of ≤100 64-character SHA256, else 400 with
  Civitai's sentence and the Zod issues; one version per matching file; unmatched left out), ``GET /api/v1/images``
  (``modelVersionId``, ``withMeta``), ``GET /api/v1/tags``, ``GET /api/v1/enums``, ``GET /login`` (an HTML page).
- ``GET /api/download/models/{versionId}`` (``?token=`` or ``Authorization: Bearer``): per file, in Civitai's
  order: 429 limiter fault, 404 ``File not found``, 410 archived, 401 downloads disabled, 401 login required
  (or, with ``FakeFile.login_redirect``, the older 307 to ``/login?...reason=download-auth``), 403 Early Access
  with ``deadline``, else **307** to a signed, expiring ``{storage_url}/storage/...`` URL.
- Storage (both listeners): 400 if any ``Authorization`` header is sent (as S3/R2 do), 403 when the signature
  is wrong or expired, ``Content-Disposition`` (``FakeFile.cd_style``: ``"plain"``, ``"utf8-raw"``,
  ``"rfc5987"``, ``None``), ``Content-Length``, ``Accept-Ranges: bytes``, ``Range`` → 206 / 416.
- ``GET /img/...``: a generated JPEG (or an mp4 body for video URLs).

From another process (a server started with ``python -m tests.support.fake_civitai``):
``POST /__fake__/faults`` with a JSON object of fault switches (``{"reset": true}`` clears them; the
answer is the current set) and ``POST /__fake__/files`` with ``add_file`` keyword arguments (JSON
values; ``data`` is not accepted, use ``size``) answering the file's ids, name, size, sha256 and URL.

Fault switches (``srv.faults``, all off by default): ``throttle_bps`` (per connection), ``drop_after`` bytes
(``drop_times`` limits how many responses are cut), ``ignore_range``, ``corrupt_at`` (flip the byte at that
offset), ``hang_storage`` / ``hang_api`` (accept, never answer), ``outage_times`` (HTML 503 for that many API
requests; -1 = always), ``rate_limit_times`` (429 with ``Retry-After``), ``download_rate_limited``,
``storage_html`` (200 text/html page instead of the file), ``storage_redirect_loop`` (the storage URL
redirects to itself forever, as a hostile look-alike may), ``no_accept_ranges``, ``no_content_length``,
``short_body`` (Content-Length says more than is sent), ``empty_pages`` (list pages with a cursor and no items),
``signed_url_ttl`` (seconds; expired signatures answer 403), ``bulk_by_hash_status`` (404/405 for the bulk
by-hash POST, as a server without it answers). ``slow_model_id`` with ``slow_model_s`` (that model's
details answer late, as while a user clicks on). ``FakeFile.removed`` makes a model vanish from every route.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.support import fake_civitai_data as data
from tests.support.fake_civitai_http import IMAGE_HOSTS, FakeHandler
from tests.support.fake_http import RecordedRequest, Switches, TwoOrigins  # noqa: F401 - RecordedRequest: public here too

_CHUNK = 1 << 20
@dataclass
class Faults(Switches):
    throttle_bps: int | None = None
    drop_after: int | None = None
    drop_times: int | None = None
    ignore_range: bool = False
    corrupt_at: int | None = None
    hang_storage: bool = False
    hang_api: bool = False
    outage_times: int = 0
    rate_limit_times: int = 0
    retry_after: int = 1
    download_rate_limited: bool = False
    storage_html: bool = False
    storage_redirect_loop: bool = False
    bulk_by_hash_status: int = 0  # 404/405: a server (an old mirror, a proxy) without the bulk by-hash POST
    no_accept_ranges: bool = False
    no_content_length: bool = False
    short_body: bool = False
    empty_pages: bool = False
    signed_url_ttl: float = 300.0
    slow_model_id: int | None = None  # GET /api/v1/models/{this id} answers only after slow_model_s seconds
    slow_model_s: float = 0.0


@dataclass
class FakeFile:
    """A downloadable file registered with ``FakeCivitai.add_file`` (attributes may be changed by tests)."""

    server: FakeCivitai = field(repr=False)
    version_id: int
    model_id: int
    file_id: int
    name: str
    path: Path
    size: int
    sha256: str
    hashes: dict
    model_type: str = "LORA"
    model_name: str = "Fake Model"
    version_name: str = "v1"
    base_model: str = "SD 1.5"
    trained_words: list = field(default_factory=lambda: ["fake trigger"])
    description: str = "<p>A <b>fake</b> model.</p>"
    version_description: str = "<p>Version notes.</p>"
    require_auth: bool = True
    login_redirect: bool = False
    cd_style: str | None = "plain"
    mode: str | None = None  # "Archived" | "TakenDown"
    usage_control: str = "Download"
    early_access_deadline: str | None = None
    nsfw_level: int = 1
    images: list = field(default_factory=list)
    removed: bool = False  # deleted from Civitai: every route answers as if it never existed
    extra_files: list = field(default_factory=list)  # more files of this version: {"name", "hashes"}

    @property
    def download_url(self) -> str:
        return f"{self.server.url}/api/download/models/{self.version_id}"

    def version_json(self, origin: str | None = None, *, with_model: bool = True) -> dict:
        origin = origin or self.server.url
        v = {
            "id": self.version_id, "modelId": self.model_id, "name": self.version_name,
            "createdAt": "2025-01-08T06:00:00.000Z", "updatedAt": "2025-01-08T06:30:00.000Z", "status": "Published",
            "publishedAt": "2025-01-08T06:30:00.000Z", "trainedWords": list(self.trained_words),
            "baseModel": self.base_model, "baseModelType": "Standard", "earlyAccessEndsAt": self.early_access_deadline,
            "description": self.version_description, "uploadType": "Created", "usageControl": self.usage_control,
            "air": f"urn:air:sd1:lora:civitai:{self.model_id}@{self.version_id}", "nsfwLevel": self.nsfw_level,
            "stats": {"downloadCount": 1, "thumbsUpCount": 1},
            "files": [] if self.mode else [{
                "id": self.file_id, "sizeKB": self.size / 1024, "name": self.name, "type": "Model",
                "pickleScanResult": "Success", "virusScanResult": "Success", "scannedAt": "2025-01-08T06:16:27.731Z",
                "metadata": {"format": "SafeTensor", "size": None, "fp": None}, "hashes": dict(self.hashes),
                "primary": True, "downloadUrl": f"{origin}/api/download/models/{self.version_id}"}] + [
                {"id": self.file_id * 100 + n, "sizeKB": 1, "name": extra["name"], "type": "Model", "primary": False,
                 "hashes": dict(extra.get("hashes") or {}), "metadata": {"format": "SafeTensor"},
                 "downloadUrl": f"{origin}/api/download/models/{self.version_id}?type=Model"}
                for n, extra in enumerate(self.extra_files, 1)],
            "images": [] if self.mode == "TakenDown" else [dict(i, url=i["url"].replace("ORIGIN", origin)) for i in self.images],
        }
        if not self.mode:
            v["downloadUrl"] = f"{origin}/api/download/models/{self.version_id}"
        if with_model:
            v["model"] = {"name": self.model_name, "type": self.model_type, "nsfw": False, "poi": False}
            if self.mode:
                v["model"]["mode"] = self.mode
        return v


def _hashes_of(path: Path) -> tuple[str, dict]:
    sha, crc, size = hashlib.sha256(), 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
        auto_v1 = None
        if size >= 0x200000:
            fh.seek(0x100000)
            auto_v1 = hashlib.sha256(fh.read(0x10000)).hexdigest()[:8].upper()
    digest = sha.hexdigest().upper()
    hashes = {"AutoV2": digest[:10], "SHA256": digest, "CRC32": f"{crc:08X}"}
    if auto_v1:
        hashes["AutoV1"] = auto_v1
    return digest, hashes


class FakeCivitai(TwoOrigins):
    """See the module docstring. Start with ``with FakeCivitai() as srv:`` (or ``start()``/``stop()``)."""

    handler = FakeHandler

    def __init__(self, api_key: str | None = "test-key", workdir: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.faults = Faults()
        self.files: dict[int, FakeFile] = {}
        self.bulk_calls: list[int] = []
        self.signed_urls_issued = 0
        self.storage_auth_rejections = 0
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="fake-civitai-"))
        self._models = {m["id"]: m for m in data.all_models()}
        self._extra_versions = {v["id"]: v for v in data.recorded_versions()}
        self._video_paths: set[str] = set()
        self._jpegs: dict[str, bytes] = {}
        self._lock = self.lock
        self._stopping = threading.Event()
        self._next_id = 800000

    # -- lifecycle ------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()  # hung handlers return
        super().stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- registration ---------------------------------------------------------------------------
    def add_file(self, *, data: bytes | None = None, size: int | None = None, name: str = "fake_model.safetensors",
                 version_id: int | None = None, model_id: int | None = None, model_type: str = "LORA",
                 images: list | None = None, **attrs: object) -> FakeFile:
        """Register a downloadable file; ``data`` bytes, or ``size`` generated bytes written to disk.

        Extra keyword arguments set ``FakeFile`` attributes (``cd_style``, ``require_auth``, ``mode``,
        ``usage_control``, ``early_access_deadline``, ``login_redirect``, ``base_model``, ``trained_words`` …).
        Default images: a video, an X-rated image and a PG image (in that order), so preview selection is tested.
        """
        with self._lock:
            self._next_id += 1
            version_id = version_id or self._next_id
            model_id = model_id or version_id + 1_000_000
        path = self.workdir / f"file-{version_id}.bin"
        if data is not None:
            path.write_bytes(data)
        else:
            with open(path, "wb") as fh:
                left = int(size or 0)
                while left > 0:
                    block = os.urandom(min(_CHUNK * 4, left))
                    fh.write(block)
                    left -= len(block)
        sha, hashes = _hashes_of(path)
        if images is None:
            images = [
                {"id": version_id * 10 + 1, "url": f"ORIGIN/img/fake/{version_id}-1/width=450/{version_id}1.mp4",
                 "type": "video", "nsfwLevel": 1, "width": 512, "height": 512, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC"},
                {"id": version_id * 10 + 2, "url": f"ORIGIN/img/fake/{version_id}-2/width=450/{version_id}2.jpeg",
                 "type": "image", "nsfwLevel": 8, "width": 512, "height": 512, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC"},
                {"id": version_id * 10 + 3, "url": f"ORIGIN/img/fake/{version_id}-3/width=450/{version_id}3.jpeg",
                 "type": "image", "nsfwLevel": 1, "width": 512, "height": 512, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC",
                 "meta": {"prompt": "fake trigger, a castle", "seed": 42, "steps": 20, "sampler": "Euler a"}},
            ]
        f = FakeFile(self, version_id, model_id, version_id * 10, name, path, path.stat().st_size, sha, hashes,
                     model_type=model_type, images=images)
        for key, value in attrs.items():
            if not hasattr(f, key):
                raise TypeError(f"FakeFile has no attribute {key!r}")
            setattr(f, key, value)
        for img in images:
            if img.get("type") == "video":
                self._video_paths.add(urlsplit(img["url"].replace("ORIGIN", "http://x")).path)
        with self._lock:
            self.files[version_id] = f
        return f

    # -- catalogue ------------------------------------------------------------------------------
    def _file_models(self) -> dict[int, dict]:
        models: dict[int, dict] = {}
        for f in [f for f in list(self.files.values()) if not f.removed]:
            m = models.setdefault(f.model_id, {
                "id": f.model_id, "name": f.model_name, "description": f.description, "type": f.model_type,
                "poi": False, "nsfw": f.nsfw_level > 2, "nsfwLevel": f.nsfw_level, "allowNoCredit": True,
                "allowCommercialUse": ["Image", "RentCivit"], "allowDerivatives": True, "allowDifferentLicense": True,
                "stats": {"downloadCount": 1, "thumbsUpCount": 1}, "creator": {"username": "fakecreator", "image": None},
                "tags": ["style"], "modelVersions": []})
            if f.mode:
                m["mode"] = f.mode
            m["modelVersions"].append(dict(f.version_json("ORIGIN", with_model=False), index=len(m["modelVersions"])))
        return models

    def _all_models(self) -> list[dict]:
        models = dict(self._models)
        models.update(self._file_models())
        return list(models.values())

    def _model_json(self, model_id: int) -> dict | None:
        model = next((m for m in self._all_models() if m["id"] == model_id), None)
        return self._origin_fix(model)

    def _origin_fix(self, obj: dict | None) -> dict | None:
        if obj is None:
            return None
        return json.loads(json.dumps(obj).replace("ORIGIN", "https://civitai.com"))

    def _versions(self):
        for model in self._all_models():
            for v in model.get("modelVersions", []):
                full = dict(v)
                full.setdefault("modelId", model["id"])
                full["model"] = {"name": model["name"], "type": model["type"], "nsfw": model.get("nsfw", False),
                                 "poi": model.get("poi", False)}
                if model.get("mode"):
                    full["model"]["mode"] = model["mode"]
                yield full
        yield from (copy.deepcopy(v) for v in self._extra_versions.values())

    def _version_json(self, version_id: int) -> dict | None:
        f = self.files.get(version_id)
        if f is not None:
            return None if f.removed else self._origin_fix(f.version_json("ORIGIN"))
        return self._origin_fix(next((v for v in self._versions() if v["id"] == version_id), None))

    def _find_hash(self, wanted: str) -> dict | None:
        for v in self._versions():
            for f in v.get("files", []):
                hashes = {k: str(h).upper() for k, h in (f.get("hashes") or {}).items() if h}
                if wanted in hashes.values():
                    return self._origin_fix(v)
        return None

    def _versions_by_sha256(self, wanted: list[str]) -> list[dict]:
        """The bulk POST's answer: one version per matching *file*, as Civitai's query selects files."""
        out = []
        for v in self._versions():
            for f in v.get("files", []):
                digest = str((f.get("hashes") or {}).get("SHA256") or "").upper()
                if digest and digest in wanted:
                    out.append(self._origin_fix(v))
        return out

    def _search(self, query: dict) -> list[dict]:
        one = {k: v[-1] for k, v in query.items()}
        types = set(query.get("types", []))
        bases = set(query.get("baseModels", []))
        text = one.get("query", "").strip().lower()
        tag = one.get("tag", "").lower()
        user = one.get("username", "").lower()
        ids = {int(i) for i in one.get("ids", "").split(",") if i.strip().isdigit()}
        nsfw = one.get("nsfw", "false").lower() == "true"
        out = []
        for m in self._all_models():
            if m.get("mode") == "TakenDown" or (m["id"] == data.GLITCH_MODEL_ID and not ids):
                continue
            if ids and m["id"] not in ids:
                continue
            if types and m.get("type") not in types:
                continue
            if bases and not any(v.get("baseModel") in bases for v in m.get("modelVersions", [])):
                continue
            if text and text not in m.get("name", "").lower():
                continue
            tags = [t if isinstance(t, str) else t.get("name", "") for t in m.get("tags", [])]
            if tag and tag not in [t.lower() for t in tags]:
                continue
            if user and (m.get("creator") or {}).get("username", "").lower() != user:
                continue
            level = m.get("nsfwLevel")
            if not nsfw and ((level & 1) == 0 if isinstance(level, int) else bool(m.get("nsfw"))):
                continue
            out.append(self._origin_fix(m))
        return out

    def _is_video(self, path: str) -> bool:
        if path.lower().endswith((".mp4", ".webm")):
            return True
        if path in self._video_paths or path.replace("/img", "", 1) in self._video_paths:
            return True
        with self._lock:
            if not hasattr(self, "_sample_videos"):
                urls = {i["url"] for m in self._models.values() for v in m.get("modelVersions", [])
                        for i in v.get("images", []) if i.get("type") == "video"}
                self._sample_videos = {IMAGE_HOSTS.sub("/img/", u) for u in urls}
        return path in self._sample_videos

    def _jpeg(self, path: str) -> bytes:
        with self._lock:
            if path not in self._jpegs:
                from PIL import Image

                digest = hashlib.sha256(path.encode()).digest()
                buf = io.BytesIO()
                Image.new("RGB", (64, 96), tuple(digest[:3])).save(buf, "JPEG")
                self._jpegs[path] = buf.getvalue()
            return self._jpegs[path]


def main(argv: list[str] | None = None) -> None:
    """Run the server in its own process (benchmarks): prints one JSON line, serves until stdin closes.

    ``python -m tests.support.fake_civitai --file-size 67108864 [--throttle-bps N] [--api-key K]``
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--file-size", type=int, action="append", default=[], help="register a generated file")
    parser.add_argument("--throttle-bps", type=int, default=None, help="per-connection storage throttle")
    parser.add_argument("--api-key", default="test-key")
    args = parser.parse_args(argv)
    with FakeCivitai(api_key=args.api_key) as srv:
        srv.faults.throttle_bps = args.throttle_bps
        files = [srv.add_file(size=n, name=f"bench-{i}.safetensors") for i, n in enumerate(args.file_size)]
        print(json.dumps({"url": srv.url, "storage_url": srv.storage_url, "files": [
            {"version_id": f.version_id, "name": f.name, "size": f.size, "sha256": f.sha256,
             "download_url": f.download_url} for f in files]}), flush=True)
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us


if __name__ == "__main__":
    main()
