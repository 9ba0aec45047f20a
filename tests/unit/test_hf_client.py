"""HubClient against the fake Hub: search and Link paging, details, files, the token's one origin, mirrors."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from model_workbench.huggingface import errors as e
from model_workbench.huggingface import messages as m
from model_workbench.huggingface.client import EXPAND, HubClient
from tests.support.fake_hub import TOKEN


def api_queries(hub):
    return [r.query for r in hub.requests_to("api") if r.path == "/api/models"]


def test_search_sends_the_hubs_parameters(hub):
    with HubClient(hub.url) as client:
        page = client.search("castle", sort="likes", kind="lora", limit=2)
    (query,) = api_queries(hub)
    assert query["search"] == ["castle"] and query["sort"] == ["likes"] and query["direction"] == ["-1"]
    assert query["limit"] == ["2"] and query["filter"] == ["lora"] and query["pipeline_tag"] == ["text-to-image"]
    assert query["expand"] == list(EXPAND)
    assert [mdl.repo_id for mdl in page.models] == ["fake-org/castle-lora", "fake-org/castle-lora-peft"]
    first = page.models[0]
    assert first.author == "fake-org" and first.downloads == 5400 and first.likes == 120
    assert first.last_modified == "2024-06-02T10:00:00.000Z" and first.sha and "lora" in first.tags
    assert page.next_cursor is None


@pytest.mark.parametrize("kind, params", [
    ("all", {}), ("text-to-image", {"pipeline_tag": ["text-to-image"]}),
    ("checkpoint", {"pipeline_tag": ["text-to-image"], "filter": ["safetensors"]}),
])
def test_kind_filters(hub, kind, params):
    with HubClient(hub.url) as client:
        client.search(kind=kind, limit=3)
    (query,) = api_queries(hub)
    assert {k: query[k] for k in ("pipeline_tag", "filter") if k in query} == params
    assert "search" not in query


def test_sort_by_last_modified_and_gated_marks(hub):
    with HubClient(hub.url) as client:
        page = client.search(sort="lastModified", limit=3)
    assert [x.repo_id for x in page.models] == ["fake-org/tiny-sd-diffusers", "fake-org/castle-lora-peft",
                                                "fake-org/castle-lora"]
    with HubClient(hub.url) as client:
        gated = client.search("gated").models
    assert [(x.repo_id, x.gated) for x in gated] == [("fake-org/gated-lora", "manual")]


def test_link_paging_walks_every_result_once(hub):
    seen, cursor = [], None
    with HubClient(hub.url) as client:
        for _ in range(20):
            page = client.search("filler", limit=7, cursor=cursor)
            seen += [x.repo_id for x in page.models]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert len(seen) == 24 == len(set(seen))
    downloads = [hub.repos[r].downloads for r in seen]
    assert downloads == sorted(downloads, reverse=True)
    assert len(api_queries(hub)) == 4


def test_a_cursor_on_another_origin_is_refused(hub):
    with HubClient(hub.url) as client, pytest.raises(e.HubBadResponseError) as caught:
        client.search(cursor="https://evil.example/api/models?cursor=abc")
    assert caught.value.template == m.CURSOR_ELSEWHERE and "evil.example" in str(caught.value)
    assert hub.requests_to("api") == []


def test_a_link_to_the_hub_itself_is_moved_onto_the_mirror(hub):
    hub.faults.link_origin = "https://huggingface.co"  # a mirror passing the Hub's own Link header through
    with HubClient(hub.url) as client:
        page = client.search("filler", limit=5)
        assert page.next_cursor.startswith(hub.url + "/api/models?")
        assert len(client.search(cursor=page.next_cursor).models) == 5


def test_details_of_a_lora_repo(hub):
    with HubClient(hub.url) as client:
        details = client.details("fake-org/castle-lora")
    repo = hub.repos["fake-org/castle-lora"]
    assert details.revision == repo.head and details.model.sha == repo.head
    assert details.card_markdown.startswith("# Castle LoRA") and "---" not in details.card_markdown
    assert details.card_data["base_model"] == "runwayml/stable-diffusion-v1-5"
    assert details.trigger_words == ("castle style",)
    assert details.preview_path == "images/castle_preview.png"
    weights = {f.path: f for f in details.files}["castle_lora.safetensors"]
    blob = hub.file("fake-org/castle-lora", "castle_lora.safetensors")
    assert weights.sha256 == hashlib.sha256(blob.data).hexdigest() and weights.size == len(blob.data)
    assert weights.revision == repo.head
    # every call was made at the commit the info named, not at "main"
    paths = [r.path for r in hub.requests_to("api")]
    assert paths == ["/api/models/fake-org/castle-lora", f"/api/models/fake-org/castle-lora/tree/{repo.head}",
                     f"/fake-org/castle-lora/resolve/{repo.head}/README.md"]


def test_details_of_a_diffusers_repo_list_nested_files_across_tree_pages(hub):
    hub.faults.tree_page_size = 3
    with HubClient(hub.url) as client:
        details = client.details("fake-org/tiny-sd-diffusers")
    paths = {f.path for f in details.files}
    assert {"model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
            "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"} <= paths
    assert "unet" not in paths and details.preview_path == "example.png"
    assert len([r for r in hub.requests_to("api") if "/tree/" in r.path]) >= 4


def test_details_at_an_older_revision(hub):
    repo = hub.repos["fake-org/castle-lora-peft"]
    old = repo.head
    new = hub.update_file("fake-org/castle-lora-peft", "pytorch_lora_weights.safetensors", b"new weights")
    with HubClient(hub.url) as client:
        latest = client.details("fake-org/castle-lora-peft")
        before = client.details("fake-org/castle-lora-peft", revision=old)
    assert (latest.revision, before.revision) == (new, old)
    lora = "pytorch_lora_weights.safetensors"
    assert {f.path: f for f in latest.files}[lora].sha256 == hashlib.sha256(b"new weights").hexdigest()
    assert {f.path: f for f in before.files}[lora].sha256 != hashlib.sha256(b"new weights").hexdigest()
    assert f"/api/models/fake-org/castle-lora-peft/revision/{old}" in [r.path for r in hub.requests_to("api")]


def test_fetch_bytes_follows_the_storage_redirect_and_ranges_read_a_header(hub):
    with HubClient(hub.url) as client:
        details = client.details("fake-org/castle-lora")
        files = {f.path: f for f in details.files}
        image = client.fetch_bytes(client.file_url(files[details.preview_path]))
        head = client.fetch_range(client.file_url(files["castle_lora.safetensors"]), 0, 8)
        tail = client.fetch_range(client.file_url(files["castle_lora.safetensors"]), files["castle_lora.safetensors"].size - 4, 100)
    assert image.startswith(b"\x89PNG")
    blob = hub.file("fake-org/castle-lora", "castle_lora.safetensors")
    assert head == blob.data[:8] and tail == blob.data[-4:]
    assert [r.headers.get("Range") for r in hub.requests_to("storage")][1:] == [
        "bytes=0-7", f"bytes={len(blob.data) - 4}-{len(blob.data) + 95}"]


def test_a_range_ignored_by_the_server_is_cut_to_size(hub):
    hub.faults.ignore_range = True
    with HubClient(hub.url) as client:
        url = client.file_url(next(f for f in client.details("fake-org/castle-lora").files if f.path.endswith(".png")))
        assert client.fetch_range(url, 2, 3) == hub.file("fake-org/castle-lora", "images/castle_preview.png").data[2:5]


def test_the_token_goes_to_the_endpoint_and_never_to_the_storage_origin(hub):
    with HubClient(hub.url, token=TOKEN) as client:
        details = client.details("fake-org/gated-lora")  # gated: files need the token
        weights = next(f for f in details.files if f.path.endswith(".safetensors"))
        assert client.fetch_range(client.file_url(weights), 0, 8) == hub.file("fake-org/gated-lora", weights.path).data[:8]
        assert client.fetch_bytes(client.file_url(next(f for f in details.files if f.path == "sample.png")))
    api, storage = hub.requests_to("api"), hub.requests_to("storage")
    assert api and all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in api)
    assert len(storage) == 2 and all("Authorization" not in r.headers for r in storage)
    assert TOKEN not in repr(client)


def test_the_fake_storage_would_catch_a_leaked_token(hub):
    # So that the test above proves something: the storage origin answers 400 to any Authorization header.
    with httpx.Client() as plain:
        hop = plain.get(f"{hub.url}/fake-org/castle-lora/resolve/main/castle_lora.safetensors")
        assert hop.status_code == 302 and hop.headers["X-Linked-Size"] == str(len(hub.file("fake-org/castle-lora", "castle_lora.safetensors").data))
        assert hop.headers["X-Linked-Etag"].strip('"') == hub.file("fake-org/castle-lora", "castle_lora.safetensors").sha256
        assert hop.headers["X-Repo-Commit"] == hub.repos["fake-org/castle-lora"].head and hop.headers["ETag"]
        leaked = plain.get(hop.headers["Location"], headers={"Authorization": f"Bearer {TOKEN}"})
        assert leaked.status_code == 400
        head = plain.head(hop.headers["Location"], headers={"Range": "bytes=99999999-"})
        assert head.status_code == 416 and head.headers["Content-Range"].startswith("bytes */")


def test_a_mirror_endpoint_is_used_for_every_call(hub):
    mirror = f"http://localhost:{hub.port}"
    hub.faults.link_origin = "https://huggingface.co"
    hub.faults.tree_page_size = 2
    seen: list[httpx.URL] = []
    with httpx.Client(follow_redirects=True, event_hooks={"request": [lambda r: seen.append(r.url)]}) as http:
        client = HubClient(mirror, token=TOKEN, http=http)
        page = client.search("castle", limit=1)
        client.search(cursor=page.next_cursor)
        details = client.details("fake-org/castle-lora")
        client.fetch_bytes(client.file_url(next(f for f in details.files if f.path == details.preview_path)))
    storage_port = int(hub.storage_url.rsplit(":", 1)[1])
    api = [u for u in seen if u.port != storage_port]
    assert len(api) >= 6 and {(u.host, u.port) for u in api} == {("localhost", hub.port)}
    assert not any("huggingface.co" in str(u) for u in seen)
    assert {r.headers.get("Host") for r in hub.requests_to("api")} == {f"localhost:{hub.port}"}
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in hub.requests_to("api"))
    assert all("Authorization" not in r.headers for r in hub.requests_to("storage"))


def test_set_token_applies_from_the_next_request(hub):
    with HubClient(hub.url) as client:
        assert not client.has_token
        client.set_token(TOKEN)
        client.search(limit=1)
        assert client.has_token
    assert hub.requests_to("api")[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_the_fake_hub_runs_in_its_own_process():
    from tests.support.fake_civitai_process import ServerProcess

    with ServerProcess(module="tests.support.fake_hub") as info, HubClient(info["url"]) as client:
        assert "fake-org/castle-lora" in info["repos"]
        assert client.details("fake-org/castle-lora").preview_path == "images/castle_preview.png"


def test_fake_answers_carry_the_recorded_field_names(hub):
    import json
    from pathlib import Path

    samples = Path(__file__).resolve().parents[1] / "data" / "hf-samples"
    recorded = json.loads((samples / "model-info.json").read_text(encoding="utf-8"))
    with httpx.Client() as plain:
        info = plain.get(f"{hub.url}/api/models/fake-org/castle-lora").json()
        listed = plain.get(f"{hub.url}/api/models", params={"limit": 1}).json()[0]
        tree = plain.get(f"{hub.url}/api/models/fake-org/castle-lora/tree/main", params={"recursive": "true"}).json()
    assert set(recorded) <= set(info)
    default = json.loads((samples / "models-list_default.json").read_text(encoding="utf-8"))[0]
    assert set(listed) == set(default)
    recorded_lfs = next(x for x in json.loads((samples / "tree_recursive.json").read_text(encoding="utf-8")) if "lfs" in x)
    fake_lfs = next(x for x in tree if "lfs" in x)
    assert set(fake_lfs) == set(recorded_lfs) and set(fake_lfs["lfs"]) == set(recorded_lfs["lfs"])
    assert {x["type"] for x in tree} == {"file", "directory"}
