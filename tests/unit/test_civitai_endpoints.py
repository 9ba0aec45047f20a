"""The proxy and the Civitai site are checked when saved, and again when a client is made from them;
the API key goes to the configured Civitai site and nowhere else, for civitai.com and civitai.red alike."""

from __future__ import annotations

import importlib.util

import httpx
import pytest

from model_workbench.civitai import CivitaiClient
from model_workbench.civitai.endpoints import (
    CIVITAI_SITES,
    AddressRefused,
    httpx_proxy,
    normalize_proxy,
    normalize_site_url,
    socks_support_missing,
)
from model_workbench.civitai.http import make_http_client
from model_workbench.settings_schema import SETTINGS

HAS_SOCKSIO = importlib.util.find_spec("socksio") is not None


# -- proxy ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "saved"), [
    ("127.0.0.1:7890", "http://127.0.0.1:7890"),  # what Clash / V2Ray show and users copy
    ("  localhost:7890/ ", "http://localhost:7890"),
    ("http://127.0.0.1:7890", "http://127.0.0.1:7890"),
    ("HTTPS://proxy.example.org:3128", "https://proxy.example.org:3128"),
    ("socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"),
    ("socks5h://user:pw@127.0.0.1:1080", "socks5h://user:pw@127.0.0.1:1080"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("", ""),
])
def test_proxy_forms_users_paste_are_accepted(typed, saved):
    assert normalize_proxy(typed) == saved


@pytest.mark.parametrize("typed", [
    "garbage proxy", "ftp://127.0.0.1:21", "socks4://127.0.0.1:1080", "http://", "http://127.0.0.1:99999",
    "http://127.0.0.1:7890/some/path", "127.0.0.1:port",
])
def test_anything_else_is_refused_with_a_sentence(typed):
    with pytest.raises(AddressRefused) as info:
        normalize_proxy(typed)
    message = str(info.value)
    assert "proxy" in message and "http://127.0.0.1:7890" in message and message.endswith(".")
    assert "Error" not in message and "scheme" not in message.lower()


def test_a_garbage_proxy_gives_a_sentence_when_the_client_is_made():
    # A value that reached the settings another way (a hand-edited config) is explained, not a bare ValueError.
    with pytest.raises(AddressRefused, match="is not a proxy address"):
        CivitaiClient("https://civitai.com", proxy="garbage proxy")


def test_a_pasted_host_and_port_works_as_a_proxy():
    CivitaiClient("https://civitai.com", proxy="127.0.0.1:7890").close()


def test_socks_needs_socksio_and_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr("model_workbench.civitai.endpoints._has_socksio", lambda: False)
    message = socks_support_missing("socks5h://127.0.0.1:1080")
    assert "socksio" in message and "pip install socksio" in message
    assert socks_support_missing("http://127.0.0.1:7890") == "" and socks_support_missing("") == ""
    with pytest.raises(AddressRefused) as info:
        httpx_proxy("socks5://127.0.0.1:1080")
    assert str(info.value) == message


@pytest.mark.skipif(not HAS_SOCKSIO, reason="socksio is not installed here")
def test_socks5h_is_handed_to_httpx_as_socks5_which_resolves_names_at_the_proxy():
    assert httpx_proxy("socks5h://127.0.0.1:1080") == "socks5://127.0.0.1:1080"
    CivitaiClient("https://civitai.com", proxy="socks5h://127.0.0.1:1080").close()


def test_no_proxy_stays_none():
    assert httpx_proxy(None) is None and httpx_proxy("") is None


# -- Civitai site ----------------------------------------------------------------------------------
def test_the_two_civitai_sites_are_offered():
    # The Settings dropdown offers both sites and still takes a typed mirror.
    site = next(spec for spec in SETTINGS if spec.key == "model_workbench_civitai_base_url")
    assert site.choices == CIVITAI_SITES == ("https://civitai.com", "https://civitai.red") and site.allow_custom


@pytest.mark.parametrize(("typed", "saved"), [
    ("", ""),
    ("civitai.red", "https://civitai.red"),
    ("https://civitai.com/", "https://civitai.com"),
    ("https://civitai.com/api/v1", "https://civitai.com"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("https://mirror.example.org/civitai", "https://mirror.example.org/civitai"),
])
def test_site_addresses_are_normalised(typed, saved):
    assert normalize_site_url(typed) == saved


@pytest.mark.parametrize("typed", ["not a url", "ftp://civitai.com", "https://", "https://civitai.com?x=1",
                                   "http://127.0.0.1:99999"])
def test_a_site_that_is_not_an_address_is_refused(typed):
    with pytest.raises(AddressRefused) as info:
        normalize_site_url(typed)
    assert "https://civitai.com" in str(info.value) and str(info.value).endswith(".")


# -- the key goes to the configured site only -----------------------------------------------------------
KEY = "sk-origin-test"


def _client_with_fake_internet(base_url: str, routes: dict[str, httpx.Response]):
    """A client as the app makes it, with every hop answered by ``routes`` and every request recorded."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes.get(str(request.url), httpx.Response(200, content=b"ok"))

    http, _ = make_http_client(base_url, KEY)
    http._transport = httpx.MockTransport(answer)  # no network; the auth hook runs as it does for real
    return http, seen


@pytest.mark.parametrize(("site", "other_site"), [("https://civitai.com", "https://civitai.red"),
                                                  ("https://civitai.red", "https://civitai.com")])
def test_the_key_goes_to_the_chosen_site_and_never_follows_a_redirect_away(site, other_site):
    storage = "https://b2.civitai.com/file/model.safetensors?X-Amz-Signature=abc"
    routes = {
        f"{site}/api/download/models/1": httpx.Response(307, headers={"Location": storage}),
        f"{site}/api/download/models/2": httpx.Response(302, headers={"Location": f"{other_site}/api/download/models/2"}),
    }
    http, seen = _client_with_fake_internet(site, routes)
    with http:
        http.get(f"{site}/api/v1/models")
        http.get(f"{site}/api/download/models/1", follow_redirects=True)
        http.get(f"{site}/api/download/models/2", follow_redirects=True)
        http.get(f"{other_site}/api/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    auth = [(str(r.url), r.headers.get("Authorization")) for r in seen]
    assert auth == [
        (f"{site}/api/v1/models", f"Bearer {KEY}"),
        (f"{site}/api/download/models/1", f"Bearer {KEY}"),
        (storage, None),
        (f"{site}/api/download/models/2", f"Bearer {KEY}"),
        (f"{other_site}/api/download/models/2", None),
        (f"{other_site}/api/v1/models", None),
    ]


def test_a_site_that_is_not_an_address_gives_a_sentence_when_the_client_is_made():
    with pytest.raises(AddressRefused, match="is not a web address"):
        CivitaiClient("not a url")


def test_a_search_with_a_garbage_proxy_in_the_settings_file_says_what_is_wrong(tmp_path):
    # The proxy a user had saved before it was checked: search answers with the sentence, not "Error".
    from model_workbench.civitai_service import CivitaiService, SearchForm
    from model_workbench.standalone import StandaloneConfig, StandaloneHost

    host = StandaloneHost(StandaloneConfig(models_dir=tmp_path / "models", data_dir=tmp_path / "data"))
    host.settings_file.save({"model_workbench_proxy": "garbage proxy"})
    with pytest.raises(AddressRefused, match="“garbage proxy” is not a proxy address"):
        CivitaiService(host).search(SearchForm(query="castle"))
