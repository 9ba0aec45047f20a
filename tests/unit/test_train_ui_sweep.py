"""Issue 14, item 3 in the Train form: which fields take several values, and the Queue's HTML."""

from __future__ import annotations

import gradio as gr
import pytest

from model_workbench.training.sweep import split_settings
from model_workbench.ui.train_form import all_fields, component_for, parse_values, values_for
from model_workbench.ui.train_queue import queue_table


def form(**changes):
    fields = all_fields()
    values = values_for(fields, {})
    names = [f.name for f in fields]
    for name, value in changes.items():
        values[names.index(name)] = value
    return parse_values(fields, values)


def test_numbers_typed_with_commas_stay_lists_for_the_sweep():
    parsed = form(learning_rate="1e-4, 5e-5", network_dim="4, 8", seed="1, 2", lr_scheduler="constant, cosine")
    fixed, varying = split_settings(parsed)
    assert varying == {"learning_rate": [1e-4, 5e-5], "network_dim": [4, 8], "seed": [1, 2],
                       "lr_scheduler": ["constant", "cosine"]}
    assert fixed["train_batch_size"] == 1 and fixed["network_alpha"] == 16.0


def test_one_value_typed_as_text_is_a_plain_number_and_free_text_keeps_its_commas():
    parsed = form(learning_rate="5e-5", network_dim="8", sample_prompts="a cat, sitting\na dog",
                  training_comment="lr 1e-4, dim 8")
    assert parsed["learning_rate"] == 5e-5 and parsed["network_dim"] == 8
    assert parsed["sample_prompts"] == ["a cat, sitting", "a dog"]
    assert split_settings(parsed)[1] == {}
    with pytest.raises(ValueError, match=r"Learning rate \(learning_rate\): 'fast' is not a number"):
        form(learning_rate="fast")


def test_sweepable_numbers_are_text_fields_and_the_rest_stay_number_fields():
    fields = {f.name: f for f in all_fields()}
    with gr.Blocks():
        assert isinstance(component_for(fields["learning_rate"], 1e-4), gr.Textbox)
        assert isinstance(component_for(fields["network_dim"], 32), gr.Textbox)
        assert isinstance(component_for(fields["keep_tokens"], 0), gr.Number)
    assert values_for([fields["learning_rate"]], {"learning_rate": 1e-4}) == ["0.0001"]


def test_queue_table_shows_state_and_escapes():
    html = queue_table([{"id": 1, "project": "<cat>", "version": "v1-lr1e-4", "state": "running", "message": "",
                         "resume": False},
                        {"id": 2, "project": "<cat>", "version": "v1-lr5e-5", "state": "queued", "message": "",
                         "resume": False}])
    assert "&lt;cat&gt; / v1-lr1e-4" in html and "Running" in html and "Queued" in html
    assert "<cat>" not in html
    assert "empty" in queue_table([])


def test_the_optimizer_is_a_choice_that_takes_several_values_typed_in():
    field = next(f for f in all_fields() if f.name == "optimizer_type")
    assert field.kind == "choice" and field.choices == ("AdamW", "AdamW8bit", "Lion", "SGDNesterov")
    assert form()["optimizer_type"] == "AdamW"
    _, varying = split_settings(form(optimizer_type="AdamW, lion"))
    assert varying == {"optimizer_type": ["AdamW", "Lion"]}
