"""The Civitai tab's pure HTML views: cards, badges, details, warnings, sanitised descriptions."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone

import pytest

from model_workbench.civitai.types import Model, ModelImage, ModelVersion
from model_workbench.ui.civitai_views import (
    cards_html,
    details_html,
    details_parts,
    error_html,
    infotext,
    page_label,
    pick_image,
    prompt_tag,
)
from tests.support.fake_civitai_data import sample


def model_json(**overrides) -> dict:
    base = {
        "id": 11, "name": "Castle <LoRA>", "type": "LORA", "nsfwLevel": 1, "description": "<p>About castles</p>",
        "creator": {"username": "maker"}, "stats": {"downloadCount": 12345, "thumbsUpCount": 7},
        "allowCommercialUse": ["Image"], "allowNoCredit": True,
        "modelVersions": [{
            "id": 111, "name": "v2", "baseModel": "SDXL 1.0", "trainedWords": ["castle style", "stone"],
            "publishedAt": "2025-01-02T00:00:00Z",
            "files": [{"id": 1, "name": "castle.safetensors", "type": "Model", "sizeKB": 2048, "primary": True,
                       "metadata": {"format": "SafeTensor", "fp": "fp16", "size": "pruned"},
                       "pickleScanResult": "Success", "virusScanResult": "Success"}],
            "images": [
                {"url": "https://img.example/x/width=450/1.mp4", "type": "video", "nsfwLevel": 1},
                {"url": "https://img.example/x/width=450/2.jpeg", "type": "image", "nsfwLevel": 8},
                {"url": "https://img.example/x/width=450/3.jpeg", "type": "image", "nsfwLevel": 1,
                 "meta": {"prompt": "a castle", "negativePrompt": "blurry", "steps": 20, "sampler": "Euler a",
                          "cfgScale": 7, "seed": 42, "Size": "512x768"}},
            ]},
            {"id": 110, "name": "v1", "baseModel": "SDXL 1.0", "files": [], "images": []}],
    }
    base.update(overrides)
    return base


def test_cards_are_one_grid_with_lazy_thumbnails_and_badges():
    model = Model.from_json(model_json())
    html = cards_html([model], max_level=2)
    assert html.count("class='mw-card'") == 1 and html.startswith("<div class='mw-cards'>")
    img = re.search(r"<img[^>]*>", html).group(0)
    assert "loading='lazy'" in img and "/width=320/3.jpeg" in img  # the PG still, not the video or the X image
    assert "mw-badge-type'>LORA<" in html and "mw-badge-base'>SDXL 1.0<" in html
    assert "Castle &lt;LoRA&gt;" in html and "<LoRA>" not in html
    assert "modelWorkbench.openModel(11)" in html
    assert "12.3k" in html


def test_video_only_model_shows_a_muted_looping_video():
    data = model_json()
    data["modelVersions"][0]["images"] = data["modelVersions"][0]["images"][:1]
    html = cards_html([Model.from_json(data)], max_level=2)
    video = re.search(r"<video[^>]*>", html).group(0)
    assert all(flag in video for flag in ("muted", "loop", "playsinline"))
    assert "<img" not in html


def test_images_above_the_content_level_are_never_shown():
    data = model_json()
    data["modelVersions"][0]["images"] = [data["modelVersions"][0]["images"][1]]  # only the X image
    html = cards_html([Model.from_json(data)], max_level=2)
    assert "2.jpeg" not in html and "No preview within your content level" in html
    assert "2.jpeg" in cards_html([Model.from_json(data)], max_level=8)


def test_installed_and_update_badges_come_from_the_installed_index():
    model = Model.from_json(model_json())
    latest = cards_html([model], installed_versions={111}, installed_models={11})
    assert "mw-badge-installed" in latest and "mw-badge-update" not in latest
    older = cards_html([model], installed_versions={110}, installed_models={11})
    assert "mw-badge-update" in older and "Update available" in older
    assert "mw-badge-installed" not in cards_html([model])


def test_empty_results_say_what_to_try():
    assert "No models found." in cards_html([])
    assert "Page 2 · 5 models · 3 installed hidden" in page_label(2, 5, 3)


def test_recorded_search_page_renders_every_model():
    items = sample("models-list_limit10")["items"]
    models = [Model.from_json(m) for m in items]
    html = cards_html(models, max_level=16)
    assert html.count("class='mw-card'") == len(models)


def test_details_show_versions_files_words_and_examples():
    model = Model.from_json(model_json())
    version = model.versions[0]
    html = details_html(model, version, version.images, site_url="https://civitai.example", can_send=True)
    assert "modelWorkbench.openModel(11,110)" in html and "mw-chip mw-active" in html
    assert "castle.safetensors" in html and "SafeTensor fp16 pruned" in html and "Success" in html
    assert "modelWorkbench.copyText(&quot;castle style&quot;)" in html
    assert "&lt;lora:castle:1&gt;" in html  # the LoRA tag with WebUI's default weight
    assert "modelWorkbench.sendToPrompt(" in html and "modelWorkbench.sendParams(" in html
    assert "https://civitai.example/models/11?modelVersionId=111" in html
    assert "Commercial use" in html and "Image" in html
    assert "Careful with" not in html


def test_standalone_details_offer_copy_instead_of_send():
    model = Model.from_json(model_json())
    html = details_html(model, model.versions[0], model.versions[0].images, site_url="https://c", can_send=False)
    assert "sendToPrompt" not in html and "sendParams" not in html
    assert "needs WebUI" in html and "Copy parameters" in html


def test_pickle_files_get_a_clear_warning():
    data = model_json()
    data["modelVersions"][0]["files"].append({"id": 2, "name": "castle.ckpt", "type": "Model", "sizeKB": 10,
                                              "metadata": {"format": "PickleTensor"},
                                              "pickleScanResult": "Danger", "virusScanResult": "Pending"})
    model = Model.from_json(data)
    html = details_html(model, model.versions[0], [], site_url="https://c")
    assert "Careful with castle.ckpt" in html and "can run code" in html
    assert "mw-badge-danger'>Danger<" in html and ">Pending<" in html


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src='https://evil.example'></iframe>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='java\tscript:alert(1)'>x</a>",
    "<svg onload=alert(1)>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<img src='data:image/svg+xml;base64,PHN2Zz4='>",
    "<p onclick=alert(1)>x</p>",
    "<object data='x.swf'></object>",
]


@pytest.mark.parametrize("payload", XSS)
def test_descriptions_are_sanitised(payload):
    model = Model.from_json(model_json(description=f"<p>ok</p>{payload}"))
    version = model.versions[0]
    version.description = payload
    _, more = details_parts(model, version, [], site_url="https://c")
    lowered = more.lower()
    for bad in ("<script", "onerror", "onload", "onclick=", "<iframe", "javascript:", "<svg", "style=", "data:",
                "<object"):
        assert bad not in lowered, (payload, bad)
    assert "<p>ok</p>" in more


def test_archived_taken_down_and_early_access_notices():
    archived = Model.from_json(model_json(mode="Archived"))
    assert "archived on Civitai" in details_html(archived, archived.versions[0], [], site_url="https://c")
    gone = Model.from_json(model_json(mode="TakenDown"))
    assert "taken down" in details_html(gone, gone.versions[0], [], site_url="https://c")
    data = copy.deepcopy(model_json())
    ends = datetime.now(timezone.utc) + timedelta(days=3)
    data["modelVersions"][0]["earlyAccessEndsAt"] = ends.strftime("%Y-%m-%dT%H:%M:%SZ")
    early = Model.from_json(data)
    html = details_html(early, early.versions[0], [], site_url="https://c")
    assert "Early Access until " + ends.strftime("%Y-%m-%d") in html
    assert "Early access" in cards_html([early])


def test_example_parameters_become_webui_infotext():
    text = infotext({"prompt": "a castle", "negativePrompt": "blurry", "steps": 20, "sampler": "Euler a",
                     "cfgScale": 7, "seed": 42, "Size": "512x768", "clipSkip": 2})
    assert text == ("a castle\nNegative prompt: blurry\n"
                    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x768, Clip skip: 2")


def test_prompt_tags_per_type():
    assert prompt_tag("LORA", "castle.safetensors", 0.8) == "<lora:castle:0.8>"
    assert prompt_tag("LoCon", "x.safetensors", 1.0) == "<lora:x:1>"
    assert prompt_tag("TextualInversion", "easyneg.pt", 1.0) == "easyneg"
    assert prompt_tag("Checkpoint", "model.safetensors", 1.0) is None


def test_pick_image_prefers_a_still_within_the_level():
    images = [ModelImage(url="https://i/a.mp4", type="video"), ModelImage(url="https://i/b.jpeg", nsfw_level=4),
              ModelImage(url="https://i/c.jpeg", nsfw_level=1)]
    assert pick_image(images, 2).url.endswith("c.jpeg")
    assert pick_image(images[:1], 2).is_video
    assert pick_image(images[1:2], 2) is None


def test_auth_errors_say_where_to_put_the_key():
    from model_workbench.civitai import AuthRequiredError
    from model_workbench.civitai import messages as m

    webui = error_html(AuthRequiredError(m.NEEDS_API_KEY, status=401), standalone=False)
    assert "Settings → Model Workbench" in webui and webui.count("civitai.com/user/account") == 1
    standalone = error_html(AuthRequiredError(m.NEEDS_API_KEY, status=401), standalone=True)
    assert "Settings tab → Civitai API key" in standalone


def test_a_version_without_images_or_files_still_renders():
    model = Model.from_json(model_json())
    version = ModelVersion(id=5, name="empty")
    html = details_html(model, version, [], site_url="https://c")
    assert "no files to download" in html


def test_bidi_controls_are_not_displayed():
    from model_workbench.bidi import BIDI_CONTROLS

    tricky = model_json(name="invoice_\u202egnp", creator={"username": "\u2067maker\u2069"},
                        tags=["\u202dtag"])
    tricky["modelVersions"][0]["files"][0]["name"] = "evil_\u202egnp.safetensors"
    tricky["modelVersions"][0]["trainedWords"] = ["\u202eword"]
    model = Model.from_json(tricky)
    shown = cards_html([model], max_level=2) + details_html(model, model.versions[0], [], site_url="https://civitai.com")
    assert not set(shown) & BIDI_CONTROLS
    assert "invoice_gnp" in shown and "evil_gnp.safetensors" in shown


def test_copied_prompt_tags_carry_no_bidi_controls():
    tricky = model_json()
    tricky["modelVersions"][0]["files"][0]["name"] = "evil_\u202egnp.safetensors"
    model = Model.from_json(tricky)
    summary, _ = details_parts(model, model.versions[0], [], site_url="https://civitai.com")
    assert "\\u202e" not in summary and "&lt;lora:evil_gnp:1&gt;" in summary


def test_a_long_description_is_collapsed_and_bounded_and_still_sanitised():
    paragraph = "<p>Paints castles in the evening light, with stone walls and towers.</p>"
    long = paragraph * 30_000 + "<script>window.pwned=1</script><img src=x onerror=alert(1)>"  # ~2 MB
    model = Model.from_json(model_json(description=long))
    _, more = details_parts(model, model.versions[0], [], site_url="https://civitai.com")
    assert "<details" in more and "Paints castles in the evening light" in more.split("<details")[0]
    assert len(more) < 400_000  # not the whole 2 MB
    assert "<script" not in more and "onerror" not in more
    assert "https://civitai.com/models/11" in more.split("<details")[1]  # where to read the rest
    short = Model.from_json(model_json())
    assert "<details" not in details_parts(short, short.versions[0], [], site_url="https://civitai.com")[1]


@pytest.mark.parametrize("model_type, base, warned", [
    ("LORA", "SDXL 1.0", None), ("LORA", "Pony", None), ("Checkpoint", "SD 1.5", None), ("LORA", "Other", None),
    ("LORA", "Flux.1 D", "do not run in AUTOMATIC1111"), ("LORA", "SD 3.5", "do not run in AUTOMATIC1111"),
    ("LORA", "SD 3.5 Large", "do not run in AUTOMATIC1111"), ("LORA", "Hunyuan Video", "do not run in AUTOMATIC1111"),
    ("LORA", "Wan Video", "do not run in AUTOMATIC1111"), ("Checkpoint", "Flux.1 S", "do not run in AUTOMATIC1111"),
    ("Workflows", "SDXL 1.0", "WebUI does not load"), ("Wildcards", "SD 1.5", "WebUI does not load"),
    ("Poses", "SD 1.5", "WebUI does not load"), ("Other", "SD 1.5", "WebUI does not load"),
    ("AestheticGradient", "SD 1.5", "WebUI does not load"),
])
def test_what_webui_cannot_use_is_said_before_the_download(model_type, base, warned):
    raw = model_json(type=model_type)
    raw["modelVersions"][0]["baseModel"] = base
    model = Model.from_json(raw)
    summary, _ = details_parts(model, model.versions[0], [], site_url="https://civitai.com")
    if warned:
        assert warned in summary
    else:
        assert "do not run in AUTOMATIC1111" not in summary and "WebUI does not load" not in summary


def test_the_types_filter_offers_every_type_civitai_lists():
    from model_workbench.civitai.enums import fallback_enums
    from model_workbench.civitai.types import Enums
    from model_workbench.ui.civitai_tab import type_choices
    from tests.support.fake_civitai_data import ENUMS

    offered = type_choices(fallback_enums())
    assert {"Workflows", "AestheticGradient"} <= set(offered) and set(ENUMS["ModelType"]) <= set(offered)
    assert offered.index("Checkpoint") == 0 and offered.index("LORA") == 1  # the common ones first
    newer = Enums.from_json(dict(ENUMS, ModelType=[*ENUMS["ModelType"], "VisionLanguage"]))
    assert "VisionLanguage" in type_choices(newer)


def test_the_update_badge_can_leave_out_early_access_and_paid_versions():
    # Issue 10, item 18: the search cards follow the Library's setting; an update one cannot download is none.
    data = model_json()
    newest = data["modelVersions"][0]
    newest["availability"] = "EarlyAccess"
    newest["earlyAccessEndsAt"] = "2999-01-01T00:00:00.000Z"
    model = Model.from_json(data)
    older_id = model.versions[1].id
    installed = {"installed_versions": {older_id}, "installed_models": {model.id}}
    assert "mw-badge-update" in cards_html([model], **installed)
    skipped = cards_html([model], skip_restricted=True, **installed)
    assert "mw-badge-update" not in skipped and "mw-badge-installed" in skipped
    newest["availability"], newest["paidAccess"] = "Public", True
    assert "mw-badge-update" not in cards_html([Model.from_json(data)], skip_restricted=True, **installed)
    # The Library's rule: an unpublished version is no update, on the cards either.
    newest["paidAccess"], newest["status"] = False, "Draft"
    assert "mw-badge-update" not in cards_html([Model.from_json(data)], **installed)
