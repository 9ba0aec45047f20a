"""The Civitai client against the fake server: search and paging, lookups, errors, retries, auth."""

from __future__ import annotations

import httpx
import pytest

from model_workbench.civitai import (
    ArchivedError,
    AuthRequiredError,
    BadRequestError,
    BadResponseError,
    CivitaiClient,
    DownloadsDisabledError,
    EarlyAccessError,
    NotFoundError,
    RateLimitedError,
    SearchPager,
    SearchQuery,
    UnavailableError,
    resolve_base_url,
    user_agent,
)
from model_workbench.civitai import messages as m
from model_workbench.civitai.http import _proxy_kwargs
from tests.support import fake_civitai_data as data
from tests.support.civitai_fixtures import KEY


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, sleeps):
    with CivitaiClient(server.url, api_key=KEY, sleep=sleeps.append, max_retries=3) as c:
        yield c


def api_requests(server, path_prefix):
    return [r for r in server.requests_to("api") if r.path.startswith(path_prefix)]


# -- configuration ----------------------------------------------------------------------------
def test_base_url_resolution_order():
    env = {"MODEL_WORKBENCH_CIVITAI_URL": "http://env.example/"}
    assert resolve_base_url("civitai.red", "http://flag", env) == "https://civitai.red"
    assert resolve_base_url("", "http://flag/api/v1", env) == "http://flag"
    assert resolve_base_url(None, None, env) == "http://env.example"
    assert resolve_base_url(None, None, {}) == "https://civitai.com"


def test_user_agent_and_auth_header(server, client):
    client.get_enums()
    request = api_requests(server, "/api/v1/enums")[0]
    assert request.headers["User-Agent"] == user_agent() and user_agent().startswith("sd-webui-model-workbench/")
    assert "mozilla" not in user_agent().lower()
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_key_is_never_shown(server):
    c = CivitaiClient(server.url, api_key="super-secret-key")
    assert "super-secret-key" not in repr(c) and "super-secret-key" not in repr(c._auth)
    f = server.add_file(data=b"x" * 10, require_auth=True)
    server.api_key = "other"
    try:
        with pytest.raises(AuthRequiredError) as info:
            c.resolve_download(f.download_url)
        assert "super-secret-key" not in str(info.value) and "super-secret-key" not in repr(info.value)
        assert info.value.message == m.BAD_API_KEY
    finally:
        server.api_key = KEY


def test_key_only_to_configured_origin(server, client):
    # The storage listener is another origin: neither the redirect nor a direct request may carry the key.
    f = server.add_file(data=b"abc" * 100)
    resolved = client.resolve_download(f.download_url)
    assert resolved.redirected and resolved.url.startswith(server.storage_url)
    response = client.http.get(resolved.url)  # follows nothing, but goes through the hook
    assert response.status_code == 200 and response.content == b"abc" * 100
    storage = server.requests_to("storage")
    assert storage and all("Authorization" not in r.headers for r in storage)
    assert server.storage_auth_rejections == 0
    # A redirect from Civitai to another host, followed by httpx, loses the key on the hop.
    response = client.http.get(f.download_url, follow_redirects=True)
    assert response.status_code == 200 and response.content == b"abc" * 100


def test_storage_route_rejects_authorization(server):
    f = server.add_file(data=b"abc")
    with CivitaiClient(server.url, api_key=KEY) as c:
        url = c.resolve_download(f.download_url).url
    leaked = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"})
    assert leaked.status_code == 400 and server.storage_auth_rejections == 1


def test_proxy_argument_matches_httpx_version():
    kwargs = _proxy_kwargs("http://proxy:3128")
    assert list(kwargs) == (["proxy"] if "proxy" in httpx.Client.__init__.__code__.co_varnames else ["proxies"])
    assert _proxy_kwargs(None) == {}
    CivitaiClient("http://127.0.0.1:9", proxy="http://127.0.0.1:9").close()  # constructs on this httpx


# -- search and paging ------------------------------------------------------------------------
def test_search_sends_every_filter(server, client):
    q = SearchQuery(query="majic", types=["Checkpoint", "LORA"], base_models=["SD 1.5", "SDXL 1.0"], sort="Newest",
                    period="Month", tag="style", username="someone", limit=7, max_nsfw_level=16,
                    checkpoint_type="Merge", primary_file_only=True)
    client.search(q)
    query = api_requests(server, "/api/v1/models")[0].query
    assert query["types"] == ["Checkpoint", "LORA"] and query["baseModels"] == ["SD 1.5", "SDXL 1.0"]
    assert query["query"] == ["majic"] and query["sort"] == ["Newest"] and query["period"] == ["Month"]
    assert query["tag"] == ["style"] and query["username"] == ["someone"] and query["limit"] == ["7"]
    assert query["nsfw"] == ["true"] and query["checkpointType"] == ["Merge"] and query["primaryFileOnly"] == ["true"]
    assert "page" not in query


def test_search_results_and_filters(client):
    page = client.search(SearchQuery(types=["Checkpoint"], limit=100, max_nsfw_level=16))
    assert len(page.items) == 11 and all(item.type == "Checkpoint" for item in page.items)
    assert not page.has_more and page.next_page is None
    named = client.search(SearchQuery(query="majicmix", max_nsfw_level=16))
    assert named.items and all("majicmix" in i.name.lower() for i in named.items)


def test_local_nsfw_filter(client):
    everything = client.search(SearchQuery(types=["Checkpoint"], limit=100, max_nsfw_level=16))
    pg_only = SearchQuery(types=["Checkpoint"], limit=100, max_nsfw_level=1).filter_page(everything)
    assert all(item.nsfw_level & 1 for item in pg_only.items)


def test_pager_follows_next_page_and_goes_back(server, client):
    pager = SearchPager(client, SearchQuery(types=["Checkpoint"], limit=3, max_nsfw_level=16))
    seen = [[m.id for m in pager.first().items]]
    assert not pager.can_go_back and pager.can_go_next
    first_next = pager.current.next_page
    assert first_next.startswith(server.url + "/api/v1/models?")  # built from the request origin, followed as is
    while pager.can_go_next:
        seen.append([m.id for m in pager.next().items])
    assert len(seen) == 4 and len({i for page in seen for i in page}) == 11
    followed = [r for r in api_requests(server, "/api/v1/models") if "cursor" in r.query]
    assert len(followed) == 3
    assert pager.next().items == pager.current.items  # at the end, Next stays put
    back = pager.back()
    assert [m.id for m in back.items] == seen[2] and pager.page_number == 3
    pager.back()
    pager.back()
    assert [m.id for m in pager.current.items] == seen[0] and not pager.can_go_back


def test_pager_stops_on_empty_page_even_with_cursor(server, client):
    server.faults.empty_pages = True
    pager = SearchPager(client, SearchQuery(limit=5))
    page = pager.first()
    assert page.items == [] and page.next_cursor and not pager.can_go_next


def test_paging_rules_of_the_server(server, client):
    with pytest.raises(BadRequestError) as info:
        client.get_json("/api/v1/models", params={"query": "x", "page": "2"})
    assert "cursor" in str(info.value)
    with pytest.raises(RateLimitedError) as info:
        client.get_json("/api/v1/models", params={"limit": "100", "page": "11"})
    assert "too many pages" in str(info.value)
    with pytest.raises(BadRequestError) as info:
        client.get_json("/api/v1/models", params={"limit": "500"})
    assert "less than or equal to 100" in str(info.value)  # the ZodError issues are made readable
    ok = client.get_json("/api/v1/models", params={"limit": "3", "page": "1"})
    assert ok["metadata"]["currentPage"] == 1 and ok["metadata"]["pageSize"] == 3


# -- lookups --------------------------------------------------------------------------------------
def test_model_and_version_by_id(client):
    model = client.get_model(1231067)
    assert model.name and model.versions and model.versions[0].files
    version = client.get_version(1318)
    assert version.model.name == "froggy style"
    with pytest.raises(NotFoundError) as info:
        client.get_model(123456789)
    assert "No model with id" in str(info.value)
    with pytest.raises(NotFoundError):
        client.get_version(987654321)


def test_empty_model_versions_glitch_falls_back(server, client):
    model = client.get_model(data.GLITCH_MODEL_ID)
    assert sorted(v.id for v in model.versions) == sorted(data.GLITCH_VERSION_IDS)
    assert all(v.files for v in model.versions)


def test_archived_and_taken_down_models(client):
    archived = client.get_model(data.ARCHIVED_MODEL_ID)
    assert archived.is_archived and archived.versions[0].files == []
    taken = client.get_model(data.TAKEN_DOWN_MODEL_ID)
    assert taken.is_taken_down and taken.versions[0].images == []


def test_by_hash_any_kind(server, client):
    f = server.add_file(data=b"q" * (3 << 20))
    for kind in ("SHA256", "AutoV2", "AutoV1", "CRC32"):
        found = client.get_version_by_hash(f.hashes[kind].lower())
        assert found is not None and found.id == f.version_id, kind
    assert client.get_version_by_hash("0123456789") is None
    sample = client.get_version_by_hash("BF82986F8597")  # AutoV3 of the recorded 2025 by-hash sample
    assert sample is not None and sample.id == 1255556


def test_bulk_by_hash_is_chunked(server, client):
    f = server.add_file(data=b"bulk")
    hashes = [f"{i:064X}" for i in range(230)] + [f.sha256.lower(), "short"]
    server.bulk_calls.clear()
    found = client.get_versions_by_hashes(hashes)
    assert [v.id for v in found] == [f.version_id]
    assert server.bulk_calls == [100, 100, 31]


def test_enums_cached_with_fallback(server, client):
    first = client.get_enums()
    assert first.from_server and "Flux.1 D" in first.base_models
    client.get_enums()
    assert len(api_requests(server, "/api/v1/enums")) == 1
    server.faults.outage_times = -1
    fallback = client.get_enums(refresh=True)
    assert not fallback.from_server and "LORA" in fallback.model_types and "SDXL 1.0" in fallback.base_models


def test_images_with_meta(server, client):
    f = server.add_file(data=b"img")
    page = client.get_images(f.version_id)
    assert api_requests(server, "/api/v1/images")[0].query["withMeta"] == ["true"]
    assert any(i.meta and i.meta.get("prompt") for i in page.items)
    assert any(i.is_video for i in page.items)


def test_fetch_bytes_of_an_image(server, client):
    f = server.add_file(data=b"img")
    version = client.get_version(f.version_id)
    content, ctype = client.fetch_bytes(version.images[2].url)
    assert ctype == "image/jpeg" and content[:2] == b"\xff\xd8"


# -- errors and retries ------------------------------------------------------------------------------
def test_download_errors_are_typed_and_actionable(server, client):
    needs_key = server.add_file(data=b"1")
    with CivitaiClient(server.url) as anonymous, pytest.raises(AuthRequiredError) as info:
        anonymous.resolve_download(needs_key.download_url)
    assert "civitai.com/user/account" in str(info.value) and info.value.status == 401

    login = server.add_file(data=b"1", login_redirect=True)
    with CivitaiClient(server.url) as anonymous, pytest.raises(AuthRequiredError):
        anonymous.resolve_download(login.download_url)

    disabled = server.add_file(data=b"1", usage_control="Generation")
    with pytest.raises(DownloadsDisabledError) as info:
        client.resolve_download(disabled.download_url)
    assert "disabled downloads" in str(info.value)

    early = server.add_file(data=b"1", early_access_deadline="2026-12-24T18:00:00.000Z")
    with pytest.raises(EarlyAccessError) as info:
        client.resolve_download(early.download_url)
    assert info.value.deadline.year == 2026 and "2026-12-24 18:00 UTC" in str(info.value)

    archived = server.add_file(data=b"1", mode="Archived")
    with pytest.raises(ArchivedError) as info:
        client.resolve_download(archived.download_url)
    assert "archived" in str(info.value)

    with pytest.raises(NotFoundError):
        client.resolve_download(f"{server.url}/api/download/models/999999999")


def test_download_limiter_429(server, client, sleeps):
    f = server.add_file(data=b"1")
    server.faults.download_rate_limited = True
    with pytest.raises(RateLimitedError) as info:
        client.resolve_download(f.download_url)
    assert "support@civitai.com" in str(info.value) and len(sleeps) == 3


def test_429_retries_honour_retry_after(server, client, sleeps):
    server.faults.rate_limit_times = 2
    server.faults.retry_after = 7
    assert client.get_enums(refresh=True).from_server
    assert sleeps == [7.0, 7.0]


def test_outage_page_retries_with_backoff_then_fails(server, client, sleeps):
    server.faults.outage_times = -1
    with pytest.raises(UnavailableError) as info:
        client.get_model(1102)
    assert "Civitai is unavailable" in str(info.value)
    assert len(sleeps) == 3 and len(api_requests(server, "/api/v1/models/1102")) == 4
    server.faults.outage_times = 1
    sleeps.clear()
    assert client.get_model(1102).id == 1102 and sleeps == [1.0]


def test_exponential_backoff_without_retry_after():
    c = CivitaiClient("http://127.0.0.1:9", backoff_base=1.0, backoff_cap=30.0)
    assert [c.backoff(i, None) for i in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert c.backoff(0, 5.0) == 5.0


def test_other_4xx_are_not_retried(server, client, sleeps):
    with pytest.raises(NotFoundError):
        client.get_model(77777777)
    assert sleeps == [] and len(api_requests(server, "/api/v1/models/77777777")) == 1


def test_hanging_api_times_out(server, sleeps):
    server.faults.hang_api = True
    with CivitaiClient(server.url, timeout=0.3, sleep=sleeps.append, max_retries=0) as c, \
            pytest.raises(UnavailableError) as info:
        c.get_json("/api/v1/enums")
    assert "did not answer in time" in str(info.value)


def test_non_json_body(server, client, monkeypatch):
    from model_workbench.civitai import responses

    with pytest.raises(BadResponseError) as info:
        responses.parse_json_body(200, "application/json", b"{not json")
    assert "not valid data" in str(info.value)
    with pytest.raises(UnavailableError):
        responses.parse_json_body(200, "text/html", b"<!DOCTYPE html><html></html>")
    # the /login page answers 200 HTML: a client that lands there reports an outage, not garbage
    with pytest.raises(UnavailableError):
        client.get_json("/login")


def test_enums_disk_cache(server, tmp_path, sleeps):
    cache = tmp_path / "cache" / "enums.json"
    with CivitaiClient(server.url, sleep=sleeps.append, max_retries=0, enums_cache_file=cache) as c:
        assert c.get_enums().from_server and cache.exists()
    server.requests.clear()
    with CivitaiClient(server.url, sleep=sleeps.append, max_retries=0, enums_cache_file=cache) as c:
        assert "Flux.1 D" in c.saved_enums().base_models  # what the tab is built from
        assert "Flux.1 D" in c.get_enums().base_models  # fresh on disk: no request
    assert api_requests(server, "/api/v1/enums") == []
    server.faults.outage_times = -1
    with CivitaiClient(server.url, sleep=sleeps.append, max_retries=0, enums_cache_file=cache) as c:
        stale = c.get_enums(refresh=True)  # Civitai down: the saved copy beats the built-in list
    assert stale.from_server and "Flux.1 D" in stale.base_models
    cache.write_text("garbage")
    with CivitaiClient(server.url, sleep=sleeps.append, max_retries=0, enums_cache_file=cache) as c:
        assert c.saved_enums() is None
        assert not c.get_enums().from_server


def test_api_key_can_change_at_runtime(server):
    f = server.add_file(data=b"k")
    with CivitaiClient(server.url, max_retries=0) as c:
        with pytest.raises(AuthRequiredError):
            c.resolve_download(f.download_url)
        c.set_api_key(KEY)
        assert c.has_api_key and c.resolve_download(f.download_url).redirected
        c.set_api_key("")
        assert not c.has_api_key


# -- errors that waiting will not heal fail at once (issue 10 item 3) ---------------------------
def _client_raising(exc_factory, sleeps, **kw):
    c = CivitaiClient("https://civitai.example", sleep=sleeps.append, **kw)
    calls = []

    def handler(request):
        calls.append(request)
        raise exc_factory(request)

    c.http = httpx.Client(transport=httpx.MockTransport(handler), event_hooks={"request": [c._auth]})
    return c, calls


def test_connection_refused_fails_at_once_with_a_sentence():
    import time

    started = time.monotonic()
    with CivitaiClient("http://127.0.0.1:9") as c, pytest.raises(UnavailableError) as info:  # real sleep, 4 retries
        c.search(SearchQuery(query="castle"))
    assert time.monotonic() - started < 2.0
    text = str(info.value)
    assert "refused" in text and "127.0.0.1" in text
    assert "Error" not in text and "httpx" not in text


@pytest.mark.parametrize("message, words", [
    ("[Errno -2] Name or service not known", "could not be looked up"),
    ("[Errno -3] Temporary failure in name resolution", "could not be looked up"),
    ("[Errno 101] Network is unreachable", "no network"),
    ("[Errno 111] Connection refused", "refused"),
])
def test_connect_errors_are_not_retried_and_say_why(sleeps, message, words):
    c, calls = _client_raising(lambda r: httpx.ConnectError(message, request=r), sleeps, max_retries=4)
    with pytest.raises(UnavailableError) as info:
        c.get_json("/api/v1/enums")
    assert sleeps == [] and len(calls) == 1
    text = str(info.value)
    assert words in text and "ConnectError" not in text and "Errno" not in text
    assert text.endswith(".") and "civitai.example" in text


def test_timeouts_and_broken_connections_keep_their_backoff(sleeps):
    for exc in (httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError):
        sleeps.clear()
        c, calls = _client_raising(lambda r, exc=exc: exc("boom", request=r), sleeps, max_retries=4)
        with pytest.raises(UnavailableError) as info:
            c.get_json("/api/v1/enums")
        assert sleeps == [1.0, 2.0, 4.0, 8.0] and len(calls) == 5, exc
        assert exc.__name__ not in str(info.value) and "boom" not in str(info.value)


def test_endless_redirects_end_with_our_sentence(sleeps):
    def handler(request):
        return httpx.Response(302, headers={"Location": str(request.url)})

    c = CivitaiClient("https://civitai.example", sleep=sleeps.append)
    c.http = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    with pytest.raises(BadResponseError) as info:
        c.get_json("/api/v1/enums")
    assert "redirected" in str(info.value) and "Exceeded" not in str(info.value) and sleeps == []


@pytest.mark.parametrize("status", [404, 405])
def test_bulk_by_hash_falls_back_to_one_get_per_hash(server, client, status):
    files = [server.add_file(data=b"fallback-%d-%d" % (status, i), name=f"fallback_{i}.safetensors") for i in range(3)]
    server.faults.bulk_by_hash_status = status
    hashes = [f.sha256 for f in files] + ["F" * 64]
    found = client.get_versions_by_hashes(hashes)
    assert sorted(v.id for v in found) == sorted(f.version_id for f in files)
    gets = [r for r in api_requests(server, "/api/v1/model-versions/by-hash/")]
    posts = [r for r in api_requests(server, "/api/v1/model-versions/by-hash") if r.method == "POST"]
    assert len(gets) == 4 and len(posts) == 1
    client.get_versions_by_hashes([files[0].sha256])  # remembered: no second POST
    assert len([r for r in api_requests(server, "/api/v1/model-versions/by-hash") if r.method == "POST"]) == 1
