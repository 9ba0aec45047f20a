"""Fixtures shared by the unit tests: the fake Civitai server and a client for it; the fake Hugging Face Hub;
one torch thread and a tiny concept folder for the trainer tests.

``server`` is one fake server per test module (started only by modules that ask for it), with its
faults and request log reset around every test; ``client`` talks to it with instant retries.
``hub`` is the same for the fake Hub with its default repos (a module that changes repos defines its own);
``empty_hub`` is a fresh Hub without repos for each test (the test adds the files it needs), and
``hub_http`` a client for it that sends the accepted token.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model_workbench.civitai import CivitaiClient
from model_workbench.civitai.http import make_http_client
from tests.support.civitai_fixtures import KEY
from tests.support.fake_civitai import FakeCivitai
from tests.support.fake_hub import TOKEN, FakeHub
from tests.support.tiny_dataset import make_concept_folder
from tests.support.tiny_diffusion import single_thread


@pytest.fixture(scope="module")
def _fake_civitai_instance():
    with FakeCivitai(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def server(_fake_civitai_instance):
    _fake_civitai_instance.faults.reset()
    _fake_civitai_instance.requests.clear()
    yield _fake_civitai_instance
    _fake_civitai_instance.faults.reset()


@pytest.fixture
def client(server):
    with CivitaiClient(server.url, api_key=KEY, sleep=lambda s: None, max_retries=1) as c:
        yield c


@pytest.fixture(scope="module")
def _fake_hub_instance():
    with FakeHub() as srv:
        yield srv


@pytest.fixture
def hub(_fake_hub_instance):
    _fake_hub_instance.faults.reset()
    with _fake_hub_instance.lock:
        _fake_hub_instance.requests.clear()
    yield _fake_hub_instance


@pytest.fixture
def empty_hub():
    with FakeHub(repos=[]) as srv:
        yield srv


@pytest.fixture
def hub_http(empty_hub):
    http, _hook = make_http_client(empty_hub.url, TOKEN)
    yield http
    http.close()


@pytest.fixture
def one_thread():
    """Torch on one thread: the tiny training tests give the same numbers on every machine."""
    with single_thread():
        yield


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A concept folder of four tiny images for the trainer tests."""
    return make_concept_folder(tmp_path / "data", n=4)
