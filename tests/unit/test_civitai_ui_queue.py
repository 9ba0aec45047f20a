"""The Downloads panel rendered from queue snapshots: progress, speed, ETA, actions, messages."""

from __future__ import annotations

from model_workbench.civitai import messages as m
from model_workbench.downloads import JobSnapshot, JobStatus
from model_workbench.ui.civitai_queue_view import any_active, queue_html


def snap(job_id="dl-1", status=JobStatus.DOWNLOADING, **kw) -> JobSnapshot:
    values = dict(id=job_id, name="castle.safetensors", status=status, bytes=512 << 20, total=1024 << 20,
                  speed=8 << 20, eta=64.0, message="Downloading.", destination="/models/Lora/castle.safetensors")
    values.update(kw)
    return JobSnapshot(**values)


def test_an_active_download_shows_progress_speed_eta_and_cancel():
    html = queue_html([snap()])
    assert "width:50.0%" in html
    assert "512.0 MB / 1.0 GB" in html and "8.0 MB/s" in html and "ETA 1m 04s" in html
    assert "modelWorkbench.queueAction(&quot;cancel&quot;,&quot;dl-1&quot;)" in html
    assert "retry" not in html and "(1 active)" in html
    assert any_active([snap()])


def test_a_finished_download_says_where_the_file_went():
    html = queue_html([snap(status=JobStatus.DONE, bytes=10, total=10, message="Installed castle.safetensors.")])
    assert "Saved to" in html and "/models/Lora/castle.safetensors" in html and "width:100.0%" in html
    assert "cancel" not in html and "&quot;remove&quot;" in html
    assert not any_active([snap(status=JobStatus.DONE)])


def test_a_401_failure_offers_retry_and_says_where_to_set_the_key():
    failed = snap(status=JobStatus.FAILED, bytes=0, message=m.NEEDS_API_KEY, error_kind="AuthRequiredError")
    webui = queue_html([failed], standalone=False)
    assert "&quot;retry&quot;" in webui and "mw-job-error" in webui
    assert "Settings → Model Workbench" in webui and webui.count("civitai.com/user/account") == 1
    assert "Settings tab → Civitai API key" in queue_html([failed], standalone=True)


def test_paused_and_cancelled_jobs_can_be_retried_newest_first():
    html = queue_html([snap("dl-1", JobStatus.CANCELLED, message="Download cancelled."),
                       snap("dl-2", JobStatus.PAUSED, message="Download paused.")])
    assert html.index("dl-2") < html.index("dl-1")
    assert html.count("&quot;retry&quot;") == 2


def test_an_empty_queue_says_how_to_start():
    assert "Open a model and press Download" in queue_html([])


def test_names_and_messages_are_escaped():
    html = queue_html([snap(name="<b>x</b>.safetensors", message="<script>")])
    assert "<b>x</b>" not in html and "<script>" not in html


def test_clear_finished_is_offered_only_when_something_finished():
    assert "&quot;clear&quot;" not in queue_html([snap()])
    html = queue_html([snap(), snap("dl-2", JobStatus.DONE, bytes=10, total=10, message="Installed.")])
    assert "&quot;clear&quot;" in html and "Clear finished" in html


def test_bidi_controls_in_a_job_name_are_not_displayed():
    html = queue_html([snap(name="invoice_\u202egnp.safetensors", message="Installed invoice_\u202egnp.safetensors.")])
    assert "\u202e" not in html and "invoice_gnp.safetensors" in html


def test_a_hub_job_refused_for_its_token_gets_no_civitai_key_hint():
    from model_workbench.downloads import JobSnapshot, JobStatus
    from model_workbench.ui.civitai_queue_view import job_html

    job = JobSnapshot(id="job-1", name="gated.safetensors", status=JobStatus.FAILED, bytes=0, total=None, speed=0,
                      eta=None, message="Accept the license on the model page while logged in, then set a token in "
                                        "Settings.", destination=None, error_kind="AuthRequiredError", own_source=True)
    assert "Civitai" not in job_html(job, standalone=True)
    assert "Civitai" in job_html(JobSnapshot(**{**job.__dict__, "own_source": False}), standalone=True)
