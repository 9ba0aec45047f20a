"""Every way the Hub can fail becomes a sentence that names the repo or file, and never the token."""

from __future__ import annotations

import socket

import httpx
import pytest

from model_workbench.civitai.unreachable import unreachable_message
from model_workbench.huggingface import errors as e
from model_workbench.huggingface import messages as m
from model_workbench.huggingface.client import HubClient
from model_workbench.huggingface.types import resolve_url
from tests.support.fake_hub import OWNER_TOKEN, TOKEN, TOKEN_NOT_ACCEPTED


def failure(hub, call, token=None) -> e.HubError:
    with HubClient(hub.url, token=token) as client, pytest.raises(e.HubError) as caught:
        call(client)
    err = caught.value
    for secret in (TOKEN, TOKEN_NOT_ACCEPTED, OWNER_TOKEN):
        assert secret not in str(err) and secret not in repr(err)
    return err


def gated_file(client: HubClient) -> bytes:
    return client.fetch_bytes(resolve_url(client.endpoint, "fake-org/gated-lora", "main", "gated_lora.safetensors"))


def test_gated_file_without_a_token(hub):
    err = failure(hub, gated_file)
    assert isinstance(err, e.HubAccessError) and err.status == 401 and err.token_sent is False
    assert err.template == m.GATED_NO_TOKEN and "fake-org/gated-lora" in str(err)
    assert "Accept the license on the model page while logged in, then set a token in Settings." in str(err)
    assert "No token was sent." in str(err)


def test_gated_file_with_a_token_that_has_not_accepted(hub):
    err = failure(hub, gated_file, token=TOKEN_NOT_ACCEPTED)
    assert isinstance(err, e.HubAccessError) and err.status == 403 and err.token_sent is True
    assert err.template == m.GATED_WITH_TOKEN and "fake-org/gated-lora" in str(err)


def test_gated_repo_details_still_open_and_the_accepted_token_downloads(hub):
    with HubClient(hub.url) as client:
        details = client.details("fake-org/gated-lora")  # metadata, tree and card are public
    assert details.model.gated == "manual" and details.card_markdown.startswith("# Gated LoRA")
    with HubClient(hub.url, token=TOKEN) as client:
        assert gated_file(client) == hub.file("fake-org/gated-lora", "gated_lora.safetensors").data


def test_private_repo_without_and_with_another_token(hub):
    err = failure(hub, lambda c: c.details("fake-org/private-lora"))
    assert err.status == 401 and err.template == m.PRIVATE_NO_TOKEN and "fake-org/private-lora" in str(err)
    assert "set a token in Settings" in str(err) and "No token was sent." in str(err)
    err = failure(hub, lambda c: c.details("fake-org/private-lora"), token=TOKEN)
    assert isinstance(err, e.HubNotFoundError) and err.template == m.REPO_NOT_FOUND
    with HubClient(hub.url, token=OWNER_TOKEN) as client:
        assert client.details("fake-org/private-lora").model.private is True


def test_an_invalid_token_is_named_as_refused(hub):
    err = failure(hub, lambda c: c.search("castle"), token="hf_wrong")
    assert err.status == 401 and err.template == m.PRIVATE_WITH_TOKEN and "refused the token" in str(err)
    assert "hf_wrong" not in str(err)


def test_missing_repo_file_and_revision_are_named(hub):
    err = failure(hub, lambda c: c.details("fake-org/no-such-repo"))
    assert isinstance(err, e.HubNotFoundError) and err.status == 404
    assert str(err).startswith("fake-org/no-such-repo was not found on 127.0.0.1:")
    err = failure(hub, lambda c: c.fetch_bytes(resolve_url(c.endpoint, "fake-org/castle-lora", "main", "missing.safetensors")))
    assert err.template == m.FILE_NOT_FOUND and "missing.safetensors" in str(err) and "fake-org/castle-lora" in str(err)
    err = failure(hub, lambda c: c.details("fake-org/castle-lora", revision="no-branch"))
    assert err.template == m.REVISION_NOT_FOUND and "no-branch" in str(err)


def test_rate_limit_says_when_to_retry(hub):
    hub.faults.rate_limit_times, hub.faults.retry_after = 1, 42
    err = failure(hub, lambda c: c.search("castle"))
    assert isinstance(err, e.HubRateLimitedError) and err.retry_after == 42
    assert "Try again in 42 seconds." in str(err)


def test_a_web_page_with_status_200_is_named_as_a_wrong_address(hub):
    hub.faults.html_pages = -1
    for call in (lambda c: c.search("castle"), lambda c: c.details("fake-org/castle-lora"), gated_file):
        err = failure(hub, call)
        assert isinstance(err, e.HubBadResponseError) and err.template == m.WEB_PAGE
        assert "web page" in str(err) and "Hub endpoint" in str(err)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_endpoint_is_a_sentence():
    with HubClient(f"http://127.0.0.1:{free_port()}", token=TOKEN) as client, pytest.raises(e.HubUnavailableError) as caught:
        client.search("castle")
    assert caught.value.template == m.UNREACHABLE_REFUSED and "Hub at 127.0.0.1:" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_a_proxy_that_cannot_be_reached_is_a_sentence():
    proxy = f"http://127.0.0.1:{free_port()}"
    with HubClient("http://hub.invalid", proxy=proxy) as client, pytest.raises(e.HubUnavailableError) as caught:
        client.search("castle")
    assert caught.value.template in (m.UNREACHABLE_REFUSED, m.UNREACHABLE_PROXY, m.UNREACHABLE)
    assert "hub.invalid" in str(caught.value)


def test_connection_wording_is_the_hubs_own_and_civitais_is_unchanged():
    proxy = httpx.ProxyError("407 Proxy Authentication Required")
    assert unreachable_message(proxy, "hf-mirror.com", m) == m.UNREACHABLE_PROXY.format(host="hf-mirror.com")
    assert unreachable_message(proxy, "civitai.com").startswith("Could not reach Civitai at civitai.com")


def test_server_errors_and_unexpected_statuses(hub):
    from model_workbench.huggingface.failures import Asked, error_for_response

    asked = Asked(host="hf-mirror.com", repo="a/b")
    unavailable = error_for_response(httpx.Response(503), b"", asked)
    assert isinstance(unavailable, e.HubUnavailableError) and "HTTP 503" in str(unavailable)
    odd = error_for_response(httpx.Response(418, headers={"X-Error-Message": "I'm a teapot"}), b"", asked)
    assert str(odd) == "hf-mirror.com answered with an unexpected status (HTTP 418: I'm a teapot)."
    plain = error_for_response(httpx.Response(403), b'{"error": "Disabled"}', asked)
    assert isinstance(plain, e.HubAccessError) and "Disabled" in str(plain)
