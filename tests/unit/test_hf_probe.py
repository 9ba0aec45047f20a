"""Reading a Hub file's safetensors header with range requests, and classifying a repo's files at once."""

from __future__ import annotations

import struct

import httpx
import pytest

from model_workbench.civitai.http import make_http_client
from model_workbench.huggingface import file_messages as m
from model_workbench.huggingface.probe import FIRST_READ_BYTES, probe_files, read_safetensors_header
from model_workbench.huggingface.types import FileKind, HubFile, resolve_url
from model_workbench.library.file_kind_messages import MSG_DIFFUSERS_FOLDER, MSG_PICKLE_WARNING
from tests.support.fake_hub import TOKEN, FakeHub
from tests.support.safetensors_files import (
    checkpoint_tensors,
    kohya_lora_tensors,
    peft_lora_tensors,
    safetensors_bytes,
)

REPO = "someone/styles"
MIB = 1 << 20


def hub_file(hub: FakeHub, path: str, data: bytes, repo: str = REPO, lfs: bool = True) -> HubFile:
    stored = hub.add_file(repo, path, data, lfs=lfs)
    return HubFile(repo, hub.head(repo), path, len(data), stored.sha256 if lfs else None)


def big_lora() -> bytes:
    return safetensors_bytes(kohya_lora_tensors("sd15"), {"ss_network_module": "networks.lora"}, fill=b"\1")


def test_a_lora_header_is_read_with_one_small_range_and_the_token_stays_on_the_endpoint(empty_hub, hub_http):
    data = big_lora()
    f = hub_file(empty_hub, "ink.safetensors", data)
    header = read_safetensors_header(hub_http, resolve_url(empty_hub.url, REPO, f.revision, f.path))
    assert header["__metadata__"] == {"ss_network_module": "networks.lora"}
    assert len(header) == len(kohya_lora_tensors("sd15")) + 1
    (length,) = struct.unpack("<Q", data[:8])
    assert 8 + length < FIRST_READ_BYTES  # an SD1.5 LoRA's header fits in the first read
    storage = empty_hub.requests_to("storage")
    assert [r.headers.get("Range") for r in storage] == [f"bytes=0-{FIRST_READ_BYTES - 1}"]
    assert all("Authorization" not in r.headers for r in storage)
    assert [r.headers.get("Authorization") for r in empty_hub.requests_to("api")] == [f"Bearer {TOKEN}"]
    assert empty_hub.sent["storage"] == FIRST_READ_BYTES < len(data) // 10


def test_a_header_longer_than_the_first_read_gets_exactly_the_missing_bytes_from_storage(empty_hub, hub_http):
    metadata = {"ss_tag_frequency": "x" * (3 * FIRST_READ_BYTES)}  # kohya's tag counts can be this long
    data = safetensors_bytes(kohya_lora_tensors("sd15"), metadata, fill=b"\1")
    f = hub_file(empty_hub, "long.safetensors", data)
    header = read_safetensors_header(hub_http, resolve_url(empty_hub.url, REPO, f.revision, f.path))
    assert header["__metadata__"] == metadata
    (length,) = struct.unpack("<Q", data[:8])
    storage = empty_hub.requests_to("storage")
    assert [r.headers.get("Range") for r in storage] == [f"bytes=0-{FIRST_READ_BYTES - 1}",
                                                         f"bytes={FIRST_READ_BYTES}-{8 + length - 1}"]
    assert all("Authorization" not in r.headers for r in storage)
    assert len(empty_hub.requests_to("api")) == 1  # the second request goes straight to the storage URL
    assert empty_hub.sent["storage"] == 8 + length


def test_a_server_that_ignores_range_is_read_only_as_far_as_the_header(empty_hub, hub_http):
    data = safetensors_bytes({"emb_params": [2, 768]}) + b"\0" * (16 * MIB)
    f = hub_file(empty_hub, "tiny.safetensors", data)
    empty_hub.faults.ignore_range = True
    header = read_safetensors_header(hub_http, resolve_url(empty_hub.url, REPO, f.revision, f.path))
    assert header["emb_params"]["shape"] == [2, 768]
    assert len(empty_hub.requests_to("storage")) == 1
    assert empty_hub.sent["storage"] < 8 * MIB  # the stream was closed long before the end of the body


@pytest.mark.parametrize(("data", "sentence"), [
    (b"PK\x03\x04" + b"\0" * 200, m.MSG_PROBE_NOT_SAFETENSORS),  # a zip (a .pt saved as .safetensors)
    (struct.pack("<Q", 64 * MIB) + b"{}", m.MSG_PROBE_HEADER_TOO_BIG),
    (struct.pack("<Q", 100) + b'{"a":', m.MSG_PROBE_SHORT),
    (struct.pack("<Q", 8) + b"not json", m.MSG_PROBE_NOT_SAFETENSORS),
])
def test_files_that_are_not_safetensors_get_a_sentence(empty_hub, hub_http, data, sentence):
    f = hub_file(empty_hub, "odd.safetensors", data)
    with pytest.raises(Exception) as info:
        read_safetensors_header(hub_http, resolve_url(empty_hub.url, REPO, f.revision, f.path))
    assert str(info.value) == sentence.format(name="odd.safetensors", size=64, limit=16)


def test_an_html_page_with_status_200_is_named_as_such(empty_hub, hub_http):
    f = hub_file(empty_hub, "a.safetensors", big_lora())
    empty_hub.faults.html_pages = -1  # a captive portal / broken mirror: every answer is a web page with status 200
    with pytest.raises(Exception) as info:
        read_safetensors_header(hub_http, resolve_url(empty_hub.url, REPO, f.revision, "a.safetensors"))
    assert str(info.value) == m.MSG_PROBE_HTML.format(name="a.safetensors")


def test_gated_and_missing_files_are_sentences(empty_hub):
    f = hub_file(empty_hub, "g.safetensors", big_lora(), repo="org/gated")
    empty_hub.repos["org/gated"].gated = "manual"
    anonymous, _ = make_http_client(empty_hub.url, None)
    with pytest.raises(Exception) as info:
        read_safetensors_header(anonymous, resolve_url(empty_hub.url, f.repo_id, f.revision, f.path))
    assert str(info.value) == m.MSG_PROBE_GATED.format(name="g.safetensors", status=401)
    other = hub_file(empty_hub, "here.safetensors", big_lora())  # a repo that exists, without the file asked for
    with pytest.raises(Exception) as info:
        read_safetensors_header(anonymous, resolve_url(empty_hub.url, REPO, other.revision, "gone.safetensors"))
    assert str(info.value) == m.MSG_PROBE_NOT_FOUND.format(name="gone.safetensors")


def test_unreachable_endpoint_is_a_sentence():
    http, _ = make_http_client("http://127.0.0.1:9", None, timeout=2.0)
    with pytest.raises(Exception) as info:
        read_safetensors_header(http, "http://127.0.0.1:9/a/b/resolve/main/x.safetensors")
    assert str(info.value) == m.MSG_PROBE_UNREACHABLE.format(name="x.safetensors")


def test_probe_files_classifies_a_whole_repo_concurrently(empty_hub, hub_http):
    files = [
        hub_file(empty_hub, "README.md", b"# card", lfs=False),
        hub_file(empty_hub, "model_index.json", b"{}", lfs=False),
        hub_file(empty_hub, "unet/config.json", b"{}", lfs=False),
        hub_file(empty_hub, "unet/diffusion_pytorch_model.safetensors", safetensors_bytes({"conv_in.weight": [4]})),
        hub_file(empty_hub, "sd15.safetensors", safetensors_bytes(checkpoint_tensors("sd1"), with_data=False)),
        hub_file(empty_hub, "ink.safetensors", big_lora()),
        hub_file(empty_hub, "pytorch_lora_weights.safetensors", safetensors_bytes(peft_lora_tensors("sdxl"))),
        hub_file(empty_hub, "old.ckpt", b"\0" * 2048),
        hub_file(empty_hub, "broken.safetensors", b"<html>oops</html>"),
    ]
    kinds = probe_files(hub_http, empty_hub.url, files, empty_hub.head(REPO))
    assert list(kinds) == ["unet/diffusion_pytorch_model.safetensors", "sd15.safetensors", "ink.safetensors",
                           "pytorch_lora_weights.safetensors", "old.ckpt", "broken.safetensors"]
    assert kinds["unet/diffusion_pytorch_model.safetensors"].reason == MSG_DIFFUSERS_FOLDER
    assert kinds["sd15.safetensors"] == FileKind("checkpoint", "sd1", "ldm")
    assert kinds["ink.safetensors"] == FileKind("lora", "sd1", "kohya")
    assert (kinds["pytorch_lora_weights.safetensors"].format, kinds["pytorch_lora_weights.safetensors"].loadable) == \
        ("peft", False)
    assert kinds["old.ckpt"].note == MSG_PICKLE_WARNING and kinds["old.ckpt"].format == ""
    assert kinds["broken.safetensors"].note == m.MSG_PROBE_HTML.format(name="broken.safetensors")
    read = {r.path.rsplit("/", 1)[-1] for r in empty_hub.requests_to("storage")}  # /lfs/{sha256}
    assert read == {f.sha256 for f in files if f.path in ("sd15.safetensors", "ink.safetensors",
                                                          "pytorch_lora_weights.safetensors", "broken.safetensors")}
    # the diffusers folder and the pickle were never read


def test_a_mirror_endpoint_is_used_for_every_probe(empty_hub):
    f = hub_file(empty_hub, "ink.safetensors", big_lora())
    seen = []

    def transport(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        real = httpx.Client().send(httpx.Request(request.method, str(request.url).replace(
            "https://hf-mirror.test", empty_hub.url), headers=request.headers))
        return httpx.Response(real.status_code, headers=real.headers, content=real.content)

    http = httpx.Client(transport=httpx.MockTransport(transport), follow_redirects=True)
    kinds = probe_files(http, "https://hf-mirror.test/", [f], f.revision)
    assert kinds["ink.safetensors"].kind == "lora"
    assert seen[0] == f"https://hf-mirror.test/{REPO}/resolve/{f.revision}/ink.safetensors"
    assert not any("huggingface.co" in url for url in seen)
