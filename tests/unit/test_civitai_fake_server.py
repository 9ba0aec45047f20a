"""The fake Civitai server itself behaves as the reference's checklist says (raw HTTP, no client code)."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.support import fake_civitai_data as data
from tests.support.civitai_fixtures import KEY


def signed_url(server, f) -> str:
    r = httpx.get(f.download_url, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 307 and r.headers["Cache-Control"].startswith("no-store")
    return r.headers["Location"]


def test_ephemeral_loopback_ports(server):
    assert server.url.startswith("http://127.0.0.1:") and server.storage_url.startswith("http://127.0.0.1:")
    assert server.url != server.storage_url


def test_download_redirect_with_bearer_or_token(server):
    f = server.add_file(data=b"0123456789")
    location = signed_url(server, f)
    assert location.startswith(server.storage_url + "/storage/") and "expires=" in location and "sig=" in location
    assert httpx.get(f.download_url + f"?token={KEY}").status_code == 307
    r = httpx.get(f.download_url)
    assert r.status_code == 401 and r.json()["message"].startswith("The creator of this asset requires")


def test_old_login_redirect_variant(server):
    f = server.add_file(data=b"x", login_redirect=True)
    r = httpx.get(f.download_url)
    assert r.status_code == 307 and "reason=download-auth" in r.headers["Location"]
    page = httpx.get(r.headers["Location"])
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


def test_storage_headers_ranges_and_auth_rejection(server):
    body = bytes(range(256)) * 40
    f = server.add_file(data=body, name="r.safetensors")
    url = signed_url(server, f)
    full = httpx.get(url)
    assert full.content == body and full.headers["Content-Length"] == str(len(body))
    assert full.headers["Accept-Ranges"] == "bytes" and full.headers["Content-Disposition"] == 'attachment; filename="r.safetensors"'
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == body[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    tail = httpx.get(url, headers={"Range": "bytes=10000-"})
    assert tail.status_code == 206 and tail.content == body[10000:]
    bad = httpx.get(url, headers={"Range": f"bytes={len(body)}-"})
    assert bad.status_code == 416 and bad.headers["Content-Range"] == f"bytes */{len(body)}"
    assert httpx.get(url, headers={"Authorization": "Bearer x"}).status_code == 400


def test_content_disposition_styles(server):
    name = "Ça 城.safetensors"
    raw = server.add_file(data=b"x", name=name, cd_style="utf8-raw")
    cd = dict(httpx.get(signed_url(server, raw)).headers.raw)[b"Content-Disposition"]
    assert cd == f'attachment; filename="{name}"'.encode()  # raw UTF-8 bytes, as Civitai sends
    star = server.add_file(data=b"x", name=name, cd_style="rfc5987")
    value = httpx.get(signed_url(server, star)).headers["Content-Disposition"]
    assert "filename*=UTF-8''%C3%87a%20%E5%9F%8E.safetensors" in value
    none = server.add_file(data=b"x", cd_style=None)
    assert "Content-Disposition" not in httpx.get(signed_url(server, none)).headers


def test_expired_or_forged_signatures(server):
    f = server.add_file(data=b"x")
    url = signed_url(server, f)
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 403
    server.faults.signed_url_ttl = -5
    expired = httpx.get(signed_url(server, f))
    assert expired.status_code == 403 and b"expired" in expired.content


def test_download_status_bodies(server):
    cases = [
        (server.add_file(data=b"x", mode="Archived"), 410, "Model archived"),
        (server.add_file(data=b"x", usage_control="Generation"), 401, "disabled downloads"),
        (server.add_file(data=b"x", early_access_deadline="2030-01-01T00:00:00Z"), 403, "Early Access"),
    ]
    for f, status, words in cases:
        r = httpx.get(f.download_url, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == status and words in r.text
    assert httpx.get(f"{server.url}/api/download/models/{data.ARCHIVED_VERSION_ID}").status_code == 410
    assert httpx.get(f"{server.url}/api/download/models/1").json() == {"error": "File not found"}


def test_fault_drop_corrupt_ignore_range(server):
    body = bytes(range(256)) * 1024
    f = server.add_file(data=body)
    url = signed_url(server, f)
    server.faults.drop_after = 1000
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    server.faults.reset()
    server.faults.corrupt_at = 5
    got = httpx.get(url).content
    assert len(got) == len(body) and got[5] != body[5] and got[:5] == body[:5] and got[6:] == body[6:]
    server.faults.reset()
    server.faults.ignore_range = True
    r = httpx.get(url, headers={"Range": "bytes=10-"})
    assert r.status_code == 200 and r.content == body


def test_fault_hang_and_outage(server):
    f = server.add_file(data=b"x")
    url = signed_url(server, f)
    server.faults.hang_storage = True
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=0.3)
    server.faults.outage_times = 1
    page = httpx.get(f"{server.url}/api/v1/models")
    assert page.status_code == 503 and b"<!DOCTYPE html>" in page.content and page.headers["Retry-After"] == "1"
    assert httpx.get(f"{server.url}/api/v1/models").status_code == 200


def test_generated_file_reports_its_sha256(server):
    f = server.add_file(size=3 << 20)
    assert f.size == 3 << 20 and f.sha256 == hashlib.sha256(f.path.read_bytes()).hexdigest().upper()
    version = httpx.get(f"{server.url}/api/v1/model-versions/{f.version_id}").json()
    assert version["files"][0]["hashes"]["SHA256"] == f.sha256 and "AutoV1" in version["files"][0]["hashes"]
    assert version["downloadUrl"] == f.download_url


def test_urls_are_rewritten_to_the_fake_origin(server):
    model = httpx.get(f"{server.url}/api/v1/models/1102").json()
    for version in model["modelVersions"]:
        assert version["downloadUrl"].startswith(server.url)
        for image in version["images"]:
            assert image["url"].startswith(server.url + "/img/")
    image = httpx.get(model["modelVersions"][0]["images"][0]["url"])
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"


def test_sample_video_is_served_as_video(server):
    page = httpx.get(f"{server.url}/api/v1/models", params={"types": "Checkpoint", "limit": 100, "nsfw": "true"}).json()
    videos = [i for m in page["items"] for v in m["modelVersions"] for i in v["images"] if i.get("type") == "video"]
    assert len(videos) == 1
    r = httpx.get(videos[0]["url"])
    assert r.headers["Content-Type"] == "video/mp4"


def test_by_hash_post_limits(server):
    assert httpx.post(f"{server.url}/api/v1/model-versions/by-hash", json=["A" * 64] * 101).status_code == 400
    assert httpx.post(f"{server.url}/api/v1/model-versions/by-hash", json=["ABC"]).status_code == 400
    assert httpx.post(f"{server.url}/api/v1/model-versions/by-hash", json=["C" * 64]).json() == []
    quirky = httpx.post(f"{server.url}/api/v1/model-versions/by-hash", json=["a" * 64]).json()
    assert [v["id"] for v in quirky] == [data.QUIRKY_VERSION_ID]


def test_tags_and_enums(server):
    assert httpx.get(f"{server.url}/api/v1/tags").json()["items"]
    assert "ModelType" in httpx.get(f"{server.url}/api/v1/enums").json()


def test_control_routes_for_another_process(server):
    r = httpx.post(f"{server.url}/__fake__/files", json={"size": 2048, "name": "remote.safetensors",
                                                         "model_type": "Checkpoint", "cd_style": "rfc5987"})
    info = r.json()
    assert r.status_code == 200 and info["size"] == 2048 and server.files[info["version_id"]].cd_style == "rfc5987"
    faults = httpx.post(f"{server.url}/__fake__/faults", json={"throttle_bps": 1000, "ignore_range": True}).json()
    assert faults["throttle_bps"] == 1000 and server.faults.ignore_range
    assert httpx.post(f"{server.url}/__fake__/faults", json={"reset": True}).json()["throttle_bps"] is None
    assert httpx.post(f"{server.url}/__fake__/faults", json={"nonsense": 1}).status_code == 400
    assert httpx.post(f"{server.url}/__fake__/files", json={"bogus": 1}).status_code == 400


def test_by_hash_post_answers_as_civitai_does(server):
    url = f"{server.url}/api/v1/model-versions/by-hash"
    bad = httpx.post(url, json={"hashes": ["A" * 64]})
    assert bad.status_code == 400 and bad.json()["error"].startswith("Request must include an array of SHA256 Hashes.")
    assert "Too many hashes" in httpx.post(url, json=["A" * 64] * 101).json()["error"]
    assert "Invalid hash" in httpx.post(url, json=["ABC"]).json()["error"]
    assert httpx.post(url, json=[]).json() == []
    # One entry per matching file (Civitai selects files): two files of one version give it twice.
    f = server.add_file(data=b"twin-a", name="twin.safetensors")
    f.extra_files = [{"name": "twin-b.safetensors", "hashes": {"SHA256": hashlib.sha256(b"twin-b").hexdigest().upper()}}]
    twins = httpx.post(url, json=[f.sha256.lower(), hashlib.sha256(b"twin-b").hexdigest()]).json()
    assert [v["id"] for v in twins] == [f.version_id, f.version_id]
    # A model removed from Civitai is gone from every route.
    gone = server.add_file(data=b"gone", name="gone.safetensors", removed=True)
    assert httpx.post(url, json=[gone.sha256]).json() == []
    assert httpx.get(f"{server.url}/api/v1/models/{gone.model_id}").status_code == 404
    assert httpx.get(f"{url}/{gone.sha256}").status_code == 404


@pytest.mark.parametrize("status", [404, 405])
def test_a_server_without_the_bulk_post(server, status):
    server.faults.bulk_by_hash_status = status
    f = server.add_file(data=b"old-mirror-%d" % status, name="old_mirror.safetensors")
    assert httpx.post(f"{server.url}/api/v1/model-versions/by-hash", json=[f.sha256]).status_code == status
    assert httpx.get(f"{server.url}/api/v1/model-versions/by-hash/{f.sha256}").json()["id"] == f.version_id
