"""The Civitai tab in a real browser over the standalone app and the fake Civitai server.

search → cards → details → download → the file and its three sidecars in the LoRA folder; a 401 shows
the API-key message; a video-only preview is not saved as .png; the library scan marks the file as on
Civitai and an older local version as "update available".
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.fake_civitai import FakeCivitai


@pytest.fixture(scope="module")
def civitai():
    with FakeCivitai(api_key="test-key") as srv:
        srv.castle = srv.add_file(data=b"castle-weights" * 4000, name="castle_style.safetensors",
                                  model_name="Castle Style LoRA", trained_words=["castle style", "stone walls"],
                                  base_model="SDXL 1.0",
                                  description="<p>Paints <b>castles</b>.</p><script>window.pwned=1</script>"
                                              "<img src=x onerror='window.pwned=2'>")
        video_only = [{"id": 1, "url": "ORIGIN/img/fake/vid/width=450/clip.mp4", "type": "video", "nsfwLevel": 1,
                       "width": 512, "height": 512}]
        srv.clip = srv.add_file(data=b"clip-weights" * 3000, name="moving_clip.safetensors",
                                model_name="Castle Motion Clip", images=video_only)
        srv.locked = srv.add_file(data=b"locked" * 3000, name="locked_castle.safetensors",
                                  model_name="Castle Locked LoRA")
        # One model with two versions: v2 is listed first (newest); the library holds v1 only.
        srv.tower_v2 = srv.add_file(data=b"tower-v2" * 3000, name="tower_v2.safetensors", model_name="Tower LoRA",
                                    version_name="v2")
        srv.tower_v1 = srv.add_file(data=b"tower-v1" * 3000, name="tower_v1.safetensors", model_name="Tower LoRA",
                                    version_name="v1", model_id=srv.tower_v2.model_id)
        srv.race_a = srv.add_file(data=b"race-a" * 3000, name="race_alpha.safetensors", model_name="Race Alpha")
        srv.race_b = srv.add_file(data=b"race-b" * 3000, name="race_beta.safetensors", model_name="Race Beta")
        for n in range(25):
            srv.add_file(data=b"f%d" % n, name=f"filler_{n}.safetensors", model_name=f"Filler {n:02d}", images=[])
        yield srv


@pytest.fixture(scope="module")
def app(civitai, tmp_path_factory):
    root = tmp_path_factory.mktemp("civitai-tab")
    (root / "models" / "Lora").mkdir(parents=True)
    (root / "models" / "Lora" / "tower_v1.safetensors").write_bytes(civitai.tower_v1.path.read_bytes())
    data = root / "data"
    data.mkdir()
    settings = data / "settings.json"
    settings.write_text(json.dumps({"model_workbench_civitai_api_key": "test-key"}))
    with AppServer(["--models-dir", str(root / "models"), "--data-dir", str(data), "--civitai-url", civitai.url],
                   log_path=root / "server.log") as url:
        yield url, root, settings


def search(page, text):
    box = page.locator("#mw_civitai_query textarea, #mw_civitai_query input").first
    box.fill(text)
    box.press("Enter")


def open_card(page, name):
    card = page.locator(".mw-card", has_text=name).first
    expect(card).to_be_visible(timeout=30_000)
    card.click()
    expect(page.locator(".mw-details-title").first).to_have_text(name, timeout=30_000)


def test_search_details_download_with_sidecars(page, app, civitai, screenshot):
    url, root, _ = app
    page.goto(url)
    search(page, "Castle")
    expect(page.locator(".mw-card").first).to_be_visible(timeout=30_000)
    assert page.locator(".mw-card").count() >= 3
    card = page.locator(".mw-card", has_text="Castle Style LoRA").first
    expect(card.locator(".mw-badge-type")).to_have_text("LORA")
    expect(card.locator(".mw-badge-base")).to_have_text("SDXL 1.0")
    assert card.locator("img").first.get_attribute("loading") == "lazy"
    video_card = page.locator(".mw-card", has_text="Castle Motion Clip").first
    expect(video_card.locator("video")).to_have_count(1)
    screenshot(page, "civitai-search")

    open_card(page, "Castle Style LoRA")
    details = page.locator("#mw_civitai_details").first
    expect(details.locator(".mw-word code", has_text="castle style")).to_be_visible()
    expect(details.locator(".mw-files")).to_contain_text("castle_style.safetensors")
    more = page.locator("#mw_civitai_details_more").first
    expect(more.locator(".mw-description").last).to_contain_text("castles")
    expect(more.locator(".mw-example").first).to_contain_text("a castle")
    assert page.evaluate("window.pwned") is None  # the sanitiser dropped the script and the handler
    expect(page.locator("#mw_civitai_download_status").first).to_contain_text("castle_style.safetensors")

    page.locator("#mw_civitai_download").click()
    status = page.locator("#mw_civitai_download_status").first
    expect(status).to_contain_text("Installed to", timeout=60_000)
    lora = root / "models" / "Lora"
    expect(status).to_contain_text(str(lora / "castle_style.safetensors"))
    expect(page.locator("#mw_civitai_queue .mw-job").first).to_contain_text("Installed")
    names = sorted(p.name for p in lora.iterdir() if p.name.startswith("castle_style"))
    assert names == ["castle_style.civitai.info", "castle_style.json", "castle_style.preview.png",
                     "castle_style.safetensors"]
    assert (lora / "castle_style.safetensors").read_bytes() == civitai.castle.path.read_bytes()
    assert (lora / "castle_style.preview.png").read_bytes().startswith(b"\x89PNG")
    metadata = json.loads((lora / "castle_style.json").read_text())
    assert metadata["activation text"] == "castle style, stone walls"
    screenshot(page, "civitai-details-downloaded")

    # The card now says so.
    search(page, "Castle Style")
    expect(page.locator(".mw-card", has_text="Castle Style LoRA").locator(".mw-badge-installed")).to_be_visible(
        timeout=30_000)


def test_video_preview_is_never_saved_as_png(page, app):
    url, root, _ = app
    page.goto(url)
    search(page, "Castle Motion")
    open_card(page, "Castle Motion Clip")
    page.locator("#mw_civitai_download").click()
    expect(page.locator("#mw_civitai_download_status").first).to_contain_text("Installed to", timeout=60_000)
    lora = root / "models" / "Lora"
    assert (lora / "moving_clip.safetensors").is_file()
    assert (lora / "moving_clip.json").is_file() and (lora / "moving_clip.civitai.info").is_file()
    assert not any(p.name.startswith("moving_clip") and p.suffix in (".png", ".jpg", ".jpeg", ".webp", ".gif")
                   for p in lora.iterdir())


def test_download_without_a_key_says_where_to_set_one(page, app, screenshot):
    url, root, settings = app
    settings.write_text(json.dumps({"model_workbench_civitai_api_key": ""}))
    try:
        page.goto(url)
        search(page, "Castle Locked")
        open_card(page, "Castle Locked LoRA")
        expect(page.locator("#mw_civitai_download_status").first).to_contain_text("No Civitai API key is set")
        page.locator("#mw_civitai_download").click()
        status = page.locator("#mw_civitai_download_status").first
        expect(status).to_contain_text("the Downloads list below says why", timeout=60_000)
        card = page.locator("#mw_civitai_queue .mw-job", has_text="locked_castle")
        expect(card).to_have_count(1)
        expect(card).to_contain_text("logged in")
        expect(card).to_contain_text("civitai.com/user/account")
        expect(card).to_contain_text("Settings tab")
        expect(card).to_contain_text("Retry")
        # Said once: the card holds the message, the status line points to it.
        assert page.locator("#mw_civitai_side_column").first.inner_text().count("civitai.com/user/account") == 1
        screenshot(page, "civitai-api-key-message")
    finally:
        settings.write_text(json.dumps({"model_workbench_civitai_api_key": "test-key"}))
    assert not (root / "models" / "Lora" / "locked_castle.safetensors").exists()

    # With the key saved, Download again: the new try takes the failed row's place.
    page.locator("#mw_civitai_download").click()
    expect(page.locator("#mw_civitai_download_status").first).to_contain_text("Installed to", timeout=60_000)
    card = page.locator("#mw_civitai_queue .mw-job", has_text="locked_castle")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Installed")
    expect(card).not_to_contain_text("Retry")

    # "Clear finished" empties the list of everything that ended.
    page.locator("#mw_civitai_queue button", has_text="Clear finished").click()
    expect(page.locator("#mw_civitai_queue .mw-job")).to_have_count(0, timeout=30_000)
    expect(page.locator("#mw_civitai_queue").first).to_contain_text("No downloads yet")


def test_library_scan_marks_installed_and_update_available(page, app, civitai, screenshot):
    url, root, _ = app
    page.goto(url)
    page.locator("#mw_civitai_tabs").get_by_text("Library", exact=True).click()
    page.locator("#mw_library_scan").click()
    status = page.locator("#mw_library_status").first
    expect(status).to_contain_text("Done:", timeout=90_000)
    table = page.locator("#mw_library_table").first
    tower = table.locator("tr", has_text="tower_v1")
    expect(tower.locator(".mw-badge")).to_have_text("Update available")
    href = tower.locator("a", has_text="Open on Civitai").get_attribute("href")
    assert href.startswith(f"{civitai.url}/models/{civitai.tower_v1.model_id}")
    expect(table.locator("tr", has_text="castle_style").locator(".mw-badge")).to_have_text("On Civitai")
    lora = root / "models" / "Lora"
    # The scan filled the sidecars the user's own copy lacked.
    assert (lora / "tower_v1.civitai.info").is_file() and (lora / "tower_v1.json").is_file()
    screenshot(page, "library-tab")

    page.locator("#mw_civitai_tabs").get_by_text("Search", exact=True).first.click()
    search(page, "Tower")
    expect(page.locator(".mw-card", has_text="Tower LoRA").locator(".mw-badge-update")).to_be_visible(timeout=30_000)


def test_next_and_back_walk_cursor_pages(page, app):
    url, _, _ = app
    page.goto(url)
    search(page, "Filler")
    label = page.locator("#mw_civitai_page_label").first
    expect(label).to_contain_text("Page 1 · 20 models", timeout=30_000)
    first_names = page.locator(".mw-card-title").all_text_contents()
    page.locator("#mw_civitai_next").click()
    expect(label).to_contain_text("Page 2 · 5 models", timeout=30_000)
    expect(page.locator("#mw_civitai_next")).to_be_disabled()
    assert set(page.locator(".mw-card-title").all_text_contents()).isdisjoint(first_names)
    page.locator("#mw_civitai_back").click()
    expect(label).to_contain_text("Page 1 · 20 models", timeout=30_000)
    assert page.locator(".mw-card-title").all_text_contents() == first_names


def test_a_version_chip_switches_the_files_offered(page, app):
    url, _, _ = app
    page.goto(url)
    search(page, "Tower")
    open_card(page, "Tower LoRA")
    details = page.locator("#mw_civitai_details").first
    expect(details.locator(".mw-chip.mw-active")).to_contain_text("v2")
    expect(page.locator("#mw_civitai_filename input, #mw_civitai_filename textarea").first).to_have_value(
        "tower_v2.safetensors")
    details.locator(".mw-chip", has_text="v1").click()
    expect(details.locator(".mw-chip.mw-active")).to_contain_text("v1", timeout=30_000)
    expect(details.locator(".mw-files")).to_contain_text("tower_v1.safetensors")
    expect(page.locator("#mw_civitai_filename input, #mw_civitai_filename textarea").first).to_have_value(
        "tower_v1.safetensors")


def test_a_pasted_model_link_opens_that_model_and_version(page, app, civitai, screenshot):
    url, _, _ = app
    page.goto(url)
    tower = civitai.tower_v1
    search(page, f"https://civitai.red/models/{tower.model_id}/tower-lora?modelVersionId={tower.version_id}")
    expect(page.locator(".mw-details-title").first).to_have_text("Tower LoRA", timeout=30_000)
    details = page.locator("#mw_civitai_details").first
    expect(details.locator(".mw-chip.mw-active")).to_contain_text("v1")
    filename = page.locator("#mw_civitai_filename input, #mw_civitai_filename textarea").first
    expect(filename).to_have_value("tower_v1.safetensors")
    expect(page.locator("#mw_civitai_results .mw-card")).to_have_count(1)
    expect(page.locator("#mw_civitai_results").first).not_to_contain_text("No models found")
    screenshot(page, "civitai-pasted-link")

    search(page, f"urn:air:sd1:lora:civitai:{tower.model_id}@{civitai.tower_v2.version_id}")
    expect(details.locator(".mw-chip.mw-active")).to_contain_text("v2", timeout=30_000)
    expect(filename).to_have_value("tower_v2.safetensors")


def test_download_never_takes_the_model_that_was_open_before(page, app, civitai):
    url, root, _ = app
    page.goto(url)
    search(page, "Race")
    open_card(page, "Race Alpha")
    expect(page.locator("#mw_civitai_download_status").first).to_contain_text("race_alpha.safetensors")
    civitai.faults.slow_model_id, civitai.faults.slow_model_s = civitai.race_b.model_id, 2.0
    try:
        page.locator(".mw-card", has_text="Race Beta").first.click()
        page.locator("#mw_civitai_download").click()  # at once, while Beta's details are still loading
        status = page.locator("#mw_civitai_download_status").first
        expect(status).to_contain_text("Installed to", timeout=60_000)
    finally:
        civitai.faults.slow_model_id, civitai.faults.slow_model_s = None, 0.0
    expect(status).to_contain_text("race_beta.safetensors")
    lora = root / "models" / "Lora"
    assert (lora / "race_beta.safetensors").is_file()
    assert not (lora / "race_alpha.safetensors").exists()  # the model open before was not downloaded
