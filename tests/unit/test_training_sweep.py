"""Issue 14, item 3: a setting given several values makes one version per combination."""

from __future__ import annotations

import pytest

from model_workbench.training import projects
from model_workbench.training.sweep import (
    MAX_RUNS,
    SWEEPABLE,
    SweepError,
    format_value,
    plan_sweep,
    split_settings,
)


def test_numbers_and_choices_split_on_commas_into_typed_values():
    fixed, varying = split_settings({"learning_rate": "1e-4, 5e-5", "network_dim": "4, 8, 16",
                                     "lr_scheduler": "constant, cosine", "train_batch_size": 2})
    assert fixed == {"train_batch_size": 2}
    assert varying == {"learning_rate": [1e-4, 5e-5], "network_dim": [4, 8, 16], "lr_scheduler": ["constant", "cosine"]}
    # A JSON list is several values too; a single value in a list is no sweep.
    fixed, varying = split_settings({"network_alpha": [4, 8], "seed": [3]})
    assert varying == {"network_alpha": [4.0, 8.0]} and fixed == {"seed": 3}
    assert type(fixed["seed"]) is int


def test_free_text_and_lists_of_their_own_never_split():
    settings = {"sample_prompts": ["a cat, sitting", "a dog"], "training_comment": "made with lr 1e-4, dim 8",
                "caption_extension": ".txt", "resolution": "768,512"}
    fixed, varying = split_settings(settings)
    assert varying == {} and fixed == settings
    for key in ("sample_prompts", "training_comment", "caption_extension", "pretrained_model_name_or_path",
                "flip_aug", "output_name"):
        assert key not in SWEEPABLE


def test_resolution_sweeps_on_semicolons_because_its_comma_means_width_height():
    _, varying = split_settings({"resolution": "512; 768,512"})
    assert varying == {"resolution": ["512", "768,512"]}


def test_a_value_that_is_not_a_number_names_the_field():
    with pytest.raises(SweepError, match=r"learning_rate: 'fast' is not a number"):
        split_settings({"learning_rate": "1e-4, fast"})
    with pytest.raises(SweepError, match=r"network_dim: '4.5' is not a whole number"):
        split_settings({"network_dim": "4, 4.5"})


def test_names_are_short_readable_and_valid_version_names():
    assert [format_value(v) for v in (1e-4, 5e-5, 0.05, 16.0, 8, "768,512", None)] == [
        "1e-4", "5e-5", "0.05", "16", "8", "768x512", "none"]
    plan = plan_sweep("v2", {"learning_rate": "1e-4, 5e-5", "network_dim": "4, 8", "max_train_epochs": 2})
    assert [run.version for run in plan.runs] == ["v2-lr1e-4-dim4", "v2-lr1e-4-dim8", "v2-lr5e-5-dim4",
                                                  "v2-lr5e-5-dim8"]
    assert plan.runs[3].settings == {"max_train_epochs": 2, "learning_rate": 5e-5, "network_dim": 8}
    assert plan.count == 4 and plan.varying == ["learning_rate", "network_dim"]
    for run in plan.runs:
        assert projects.validate_name(run.version, "version") == run.version
    assert plan.summary() == "4 versions will be trained: v2-lr1e-4-dim4, v2-lr1e-4-dim8, v2-lr5e-5-dim4, v2-lr5e-5-dim8."


def test_names_follow_the_table_order_whatever_order_the_settings_came_in():
    plan = plan_sweep("v1", {"network_dim": "4, 8", "learning_rate": "1e-4, 5e-5"})
    assert plan.runs[0].version == "v1-lr1e-4-dim4" and plan.varying == ["learning_rate", "network_dim"]


def test_repeated_values_count_once():
    plan = plan_sweep("v1", {"network_dim": "8, 8, 16"})
    assert [run.version for run in plan.runs] == ["v1-dim8", "v1-dim16"]


def test_more_than_the_limit_is_refused_with_the_count():
    assert MAX_RUNS == 64
    plan_sweep("v1", {"learning_rate": [1e-4 * i for i in range(1, 9)], "network_dim": list(range(1, 9))})  # 64
    with pytest.raises(SweepError, match="would make 72 versions; at most 64"):
        plan_sweep("v1", {"learning_rate": [1e-4 * i for i in range(1, 10)], "network_dim": list(range(1, 9))})


def test_no_varying_setting_is_not_a_sweep():
    assert not plan_sweep("v1", {"learning_rate": 1e-4}).is_sweep
    assert plan_sweep("v1", {"learning_rate": 1e-4}).count == 1
