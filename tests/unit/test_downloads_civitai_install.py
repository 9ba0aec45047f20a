"""End to end below the UI: search result → folder → queued download → verified file with sidecars."""

from __future__ import annotations

import pytest

from model_workbench.civitai import CivitaiClient
from model_workbench.downloads import DownloadOptions, DownloadQueue, JobStatus
from model_workbench.downloads.civitai_install import SidecarWriter, request_for_file
from model_workbench.library.folders import model_folder
from tests.support.fake_civitai import FakeCivitai


@pytest.fixture(scope="module")
def server():
    with FakeCivitai() as srv:
        yield srv


def test_install_lora_with_sidecars(server, tmp_path):
    f = server.add_file(data=b"lora-bytes" * 1000, name="castle.safetensors", model_type="LoCon")
    with CivitaiClient(server.url, api_key="test-key", sleep=lambda s: None) as client:
        model = client.get_model(f.model_id)
        version = model.versions[0]
        dest = model_folder(model.type, tmp_path, {"lora_dir": tmp_path / "loras"}, subfolder="styles")
        writer = SidecarWriter(client)
        queue = DownloadQueue(client, options=DownloadOptions(sleep=lambda s: None), on_installed=writer)
        try:
            job = queue.add(request_for_file(version, None, dest, model=model))
            assert queue.wait(job, timeout=20)
            snap = queue.get(job)
        finally:
            queue.shutdown()
    assert snap.status == JobStatus.DONE, snap.message
    folder = tmp_path / "loras" / "styles"
    assert sorted(p.name for p in folder.iterdir()) == [
        "castle.civitai.info", "castle.json", "castle.preview.png", "castle.safetensors"]
    assert (folder / "castle.safetensors").read_bytes() == f.path.read_bytes()


def test_archived_version_has_nothing_to_download(server, tmp_path):
    from tests.support import fake_civitai_data as data

    with CivitaiClient(server.url, sleep=lambda s: None) as client:
        model = client.get_model(data.ARCHIVED_MODEL_ID)
    with pytest.raises(ValueError, match="no downloadable file"):
        request_for_file(model.versions[0], None, tmp_path)
