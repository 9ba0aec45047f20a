"""What Save does with the settings form: an empty key field keeps the saved key, forgetting it is its
own action, addresses are checked (and nothing is saved when one is refused), and it says what changed."""

from __future__ import annotations

from model_workbench.secrets_store import MASK
from model_workbench.settings_save import API_KEY, HF_ENDPOINT, HF_TOKEN, PROXY, SITE, plan_save
from model_workbench.settings_schema import defaults

SAVED = {**defaults(), API_KEY: "sk-saved", PROXY: "http://127.0.0.1:7890"}


def form(**changes):
    """The form as the page sends it after a reload: every field as stored, the key field empty."""
    return {**SAVED, API_KEY: "", **changes}


def keys(plan):
    return [spec.key for spec in plan.changed]


def test_saving_a_reloaded_page_changes_nothing():
    plan = plan_save(SAVED, form())
    assert plan.values == SAVED and plan.changed == [] and plan.refusals == []


def test_the_mask_is_never_saved_as_the_key():
    plan = plan_save(SAVED, form(**{API_KEY: MASK}))
    assert plan.values[API_KEY] == "sk-saved" and plan.changed == []


def test_a_typed_key_replaces_the_saved_one():
    plan = plan_save(SAVED, form(**{API_KEY: "  sk-new \n"}))
    assert plan.values[API_KEY] == "sk-new" and keys(plan) == [API_KEY]


def test_forgetting_the_key_is_its_own_action():
    plan = plan_save(SAVED, {}, forget_key=True)
    assert plan.values[API_KEY] == "" and keys(plan) == [API_KEY] and plan.values[PROXY] == SAVED[PROXY]


def test_a_pasted_host_and_port_is_saved_as_an_http_proxy():
    plan = plan_save({**SAVED, PROXY: ""}, form(**{PROXY: "127.0.0.1:7890"}))
    assert plan.values[PROXY] == "http://127.0.0.1:7890" and keys(plan) == [PROXY]


def test_a_refused_address_saves_nothing_and_says_why():
    plan = plan_save(SAVED, form(**{PROXY: "garbage proxy", SITE: "not a url", "model_workbench_nsfw_level": "R"}))
    assert plan.values == SAVED and plan.changed == []
    assert [str(r) for r in plan.refusals] == [
        "“not a url” is not a web address. Choose https://civitai.com or https://civitai.red, or type the address "
        "of a Civitai mirror or proxy, such as https://civitai.example.org.",
        "“garbage proxy” is not a proxy address. Write it as http://host:port, https://host:port, socks5://host:port "
        "or socks5h://host:port, for example http://127.0.0.1:7890.",
    ]


def test_the_site_is_normalised_and_reported_as_changed():
    plan = plan_save(SAVED, form(**{SITE: "civitai.red/"}))
    assert plan.values[SITE] == "https://civitai.red" and keys(plan) == [SITE]


def test_a_socks_proxy_is_saved_with_a_note_on_how_to_install_socksio(monkeypatch):
    monkeypatch.setattr("model_workbench.civitai.endpoints._has_socksio", lambda: False)
    plan = plan_save(SAVED, form(**{PROXY: "socks5://127.0.0.1:1080"}))
    assert plan.values[PROXY] == "socks5://127.0.0.1:1080" and keys(plan) == [PROXY]
    assert len(plan.notes) == 1 and "pip install socksio" in plan.notes[0]


# -- Hugging Face: the endpoint (a mirror) and the access token, kept like the Civitai key ------------------

def test_the_hub_token_is_kept_like_the_civitai_key():
    saved = {**SAVED, HF_TOKEN: "hf_saved"}
    assert plan_save(saved, {**form(), HF_TOKEN: ""}).values[HF_TOKEN] == "hf_saved"  # the page never shows it
    assert plan_save(saved, {**form(), HF_TOKEN: MASK}).changed == []
    typed = plan_save(saved, {**form(), HF_TOKEN: " hf_new "})
    assert typed.values[HF_TOKEN] == "hf_new" and keys(typed) == [HF_TOKEN]
    forgotten = plan_save(saved, {}, forget=(HF_TOKEN,))
    assert forgotten.values[HF_TOKEN] == "" and forgotten.values[API_KEY] == "sk-saved" and keys(forgotten) == [HF_TOKEN]


def test_a_mirror_endpoint_is_normalised_and_a_bad_one_refused():
    plan = plan_save(SAVED, form(**{HF_ENDPOINT: "hf-mirror.com/"}))
    assert plan.values[HF_ENDPOINT] == "https://hf-mirror.com" and keys(plan) == [HF_ENDPOINT]
    assert plan_save(SAVED, form(**{HF_ENDPOINT: ""})).values[HF_ENDPOINT] == ""  # empty: huggingface.co
    refused = plan_save(SAVED, form(**{HF_ENDPOINT: "not a mirror"}))
    assert refused.values == SAVED and [str(r) for r in refused.refusals] == [
        "“not a mirror” is not a web address. Leave the Hub endpoint empty for https://huggingface.co, or type "
        "the address of a mirror, such as https://hf-mirror.com."]
