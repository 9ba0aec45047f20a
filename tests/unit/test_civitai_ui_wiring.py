"""How the Civitai tab's events are wired: what shows the busy state while a search runs."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from model_workbench.standalone import StandaloneConfig, StandaloneHost
    from model_workbench.ui.app import build_standalone_blocks

    root = tmp_path_factory.mktemp("wiring")
    host = StandaloneHost(StandaloneConfig(models_dir=root / "m", data_dir=root / "d", civitai_url="http://127.0.0.1:9"))
    return build_standalone_blocks(host)


def _ids(demo) -> dict[int, str]:
    return {block_id: getattr(block, "elem_id", None) or "" for block_id, block in demo.blocks.items()}


def test_a_search_shows_its_busy_state_on_the_results_not_on_a_filter(demo):
    ids = _ids(demo)
    filters = {"mw_civitai_types", "mw_civitai_base_models", "mw_civitai_sort", "mw_civitai_period",
               "mw_civitai_nsfw", "mw_civitai_hide_installed", "mw_civitai_query"}
    searches = [d for d in demo.config["dependencies"] if any(ids.get(o) == "mw_civitai_results" for o in d["outputs"])]
    assert searches, "the search events write the results"
    for dep in searches:
        assert dep["show_progress"] == "full"
        assert not {ids.get(o) for o in dep["outputs"]} & filters
    # The base-model list is refreshed after the search, quietly.
    for dep in demo.config["dependencies"]:
        if any(ids.get(o) in filters for o in dep["outputs"]):
            assert dep["show_progress"] == "hidden", dep
