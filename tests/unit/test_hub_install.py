"""Installing a Hub file: the right folder, the engine's verification against the LFS SHA256, the token only
on the endpoint (never the storage redirect), and the same sidecars as a Civitai install plus ``.hf.json``."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

from PIL import Image

from model_workbench.civitai.http import make_http_client
from model_workbench.downloads.hub_install import (
    HubDownloadSource,
    HubSidecarWriter,
    card_text,
    hub_folder,
    request_for_hub_file,
)
from model_workbench.downloads.queue import DownloadQueue, JobStatus
from model_workbench.downloads.transfer import DownloadOptions
from model_workbench.huggingface import file_messages as m
from model_workbench.huggingface.types import FileKind, HubFile, HubModel, HubRepoDetails
from model_workbench.library.hub_record import read_hub_record
from tests.support.fake_hub import TOKEN, FakeHub
from tests.support.safetensors_files import kohya_lora_tensors, safetensors_bytes

REPO = "artist/ink-lora"
LORA = FileKind("lora", "sd1", "kohya")
CARD = """---
base_model: runwayml/stable-diffusion-v1-5
instance_prompt: inkstyle
license: openrail
---
# Ink style

![sample](sample.jpg)
A LoRA for [ink drawings](https://example.com/ink).
"""


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def repo(hub: FakeHub, data: bytes, *, lfs: bool = True, preview: bool = True, name: str = "ink.safetensors"):
    stored = hub.add_file(REPO, name, data, lfs=lfs)
    if preview:
        hub.add_file(REPO, "sample.jpg", jpeg())
    file = HubFile(REPO, hub.head(REPO), name, len(data), stored.sha256 if lfs else None)
    details = HubRepoDetails(HubModel(REPO, author="artist"), hub.head(REPO), CARD,
                             {"instance_prompt": "inkstyle", "base_model": "runwayml/stable-diffusion-v1-5"},
                             (file,), "sample.jpg" if preview else None)
    return details, file


def install(hub, http, tmp_path, details, file, kind=LORA):
    queue = DownloadQueue(object(), options=DownloadOptions(sleep=lambda s: None, max_attempts=2),
                          on_installed=HubSidecarWriter(http, clock=lambda: datetime(2025, 1, 2, tzinfo=timezone.utc)))
    dest = hub_folder(kind, tmp_path / "webui")
    job = queue.add(request_for_hub_file(details, file, kind, dest, endpoint=hub.url, http=http))
    assert queue.wait(job, timeout=30)
    snapshot = next(s for s in queue.snapshot() if s.id == job)
    queue.shutdown()
    return snapshot, dest


def test_request_points_at_the_commit_and_the_kinds_folder(tmp_path, empty_hub, hub_http):
    details, file = repo(empty_hub, b"x" * 100)
    request = request_for_hub_file(details, file, LORA, hub_folder(LORA, tmp_path), endpoint=empty_hub.url, http=hub_http)
    assert request.url == f"{empty_hub.url}/{REPO}/resolve/{file.revision}/ink.safetensors"
    assert request.sha256 == file.sha256.upper() and request.filename == "ink.safetensors"
    assert request.dest_dir == tmp_path / "models" / "Lora"
    assert isinstance(request.source, HubDownloadSource) and request.source.owns(request.url)
    assert hub_folder(FileKind("embedding"), tmp_path) == tmp_path / "embeddings"
    assert hub_folder("checkpoint", tmp_path, subfolder="sdxl") == tmp_path / "models" / "Stable-diffusion" / "sdxl"
    assert hub_folder(LORA, tmp_path, {"lora": tmp_path / "mine"}) == tmp_path / "mine"
    assert hub_folder(FileKind(), tmp_path) == tmp_path / "models" / "Other"


def test_install_is_verified_and_writes_webui_sidecars_without_the_token(tmp_path, empty_hub, hub_http):
    data = safetensors_bytes(kohya_lora_tensors("sd15"), {"ss_network_module": "networks.lora"}, fill=b"\7")
    details, file = repo(empty_hub, data)
    snapshot, dest = install(empty_hub, hub_http, tmp_path, details, file)
    assert snapshot.status is JobStatus.DONE and snapshot.verified, snapshot.message
    model = dest / "ink.safetensors"
    assert model.read_bytes() == data
    card = json.loads((dest / "ink.json").read_text(encoding="utf-8"))
    assert card["activation text"] == "inkstyle" and card["sd version"] == "SD1"
    assert card["description"].startswith("# Ink style") and "A LoRA for ink drawings." in card["description"]
    assert card["notes"] == f"Hugging Face: {empty_hub.url}/{REPO}"
    with Image.open(dest / "ink.preview.png") as img:
        assert img.format == "PNG" and img.size == (8, 8)
    record = read_hub_record(model)
    assert record is not None and record.to_dict() == {
        "repo_id": REPO, "revision": file.revision, "path": "ink.safetensors", "sha256": file.sha256,
        "size": len(data), "installed_at": "2025-01-02T00:00:00+00:00"}
    assert empty_hub.url not in (dest / "ink.hf.json").read_text()  # endpoint-independent
    for sidecar in dest.iterdir():
        assert TOKEN.encode() not in sidecar.read_bytes()
    # The endpoint saw the token; the storage origin the resolve URL redirected to never did.
    assert any(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in empty_hub.requests_to("api"))
    storage = empty_hub.requests_to("storage")
    assert storage and all("Authorization" not in r.headers for r in storage)


def test_a_file_without_an_lfs_hash_is_installed_unverified(tmp_path, empty_hub, hub_http):
    details, file = repo(empty_hub, b'{"a": 1}' * 10, lfs=False, preview=False, name="small.safetensors")
    snapshot, dest = install(empty_hub, hub_http, tmp_path, details, file)
    assert snapshot.status is JobStatus.DONE and not snapshot.verified
    # The shared engine's sentence names the file's own source, not Civitai.
    assert "Hugging Face gave no SHA256" in snapshot.message and "Civitai" not in snapshot.message
    assert read_hub_record(dest / "small.safetensors").sha256 is None
    assert not (dest / "small.preview.png").exists()


def test_bytes_that_do_not_match_the_listed_hash_are_not_installed(tmp_path, empty_hub, hub_http):
    details, file = repo(empty_hub, b"\1" * 5000, preview=False)
    wrong = HubFile(file.repo_id, file.revision, file.path, file.size, "0" * 64)
    snapshot, dest = install(empty_hub, hub_http, tmp_path, details, wrong)
    assert snapshot.status is JobStatus.FAILED and snapshot.error_kind == "hash"
    assert "Hugging Face's SHA256" in snapshot.message and "Civitai" not in snapshot.message
    assert not (dest / "ink.safetensors").exists()


def test_a_gated_repo_without_a_token_says_what_to_do(tmp_path, empty_hub):
    details, file = repo(empty_hub, b"\2" * 5000, preview=False)
    empty_hub.repos[REPO].gated = "manual"
    anonymous, _ = make_http_client(empty_hub.url, None)
    snapshot, dest = install(empty_hub, anonymous, tmp_path, details, file)
    assert snapshot.status is JobStatus.FAILED
    assert snapshot.message == m.MSG_PROBE_GATED.format(name="ink.safetensors", status=401)
    assert not dest.exists() or not any(dest.iterdir())


def test_card_text_drops_front_matter_images_and_link_targets():
    assert card_text(CARD) == "# Ink style\n\nA LoRA for ink drawings."
