"""The bridge from the preview core to the Host protocol: requests, stop flag and progress."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from model_workbench.host import GenerationRequest, GenerationResult, ProgressUpdate, StopFlag
from model_workbench.preview.grid_writer import render_and_save
from model_workbench.preview.host_bridge import cell_progress, generation_request, host_cell_renderer
from model_workbench.preview.plan import GenerationSettings, epoch_checkpoint, grid_plan
from model_workbench.preview.requests import CellRequest, LoraRef


class FakeHost:
    """Just enough of a Host: generate() paints the LoRA weight into the image's red channel."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.requests: list[GenerationRequest] = []
        self.stops: list[object] = []
        self.stop_after = stop_after

    def generate(self, request, progress=None, stop=None) -> GenerationResult:
        self.requests.append(request)
        self.stops.append(stop)
        weight = request.extra_networks[0].weight if request.extra_networks else 0.0
        images = [Image.new("RGB", (request.width, request.height), (int(weight * 200), 10, 20))
                  for _ in range(request.batch_size * request.n_iter)]
        if self.stop_after is not None and len(self.requests) >= self.stop_after and stop is not None:
            stop.set()
        return GenerationResult(images=images, infotexts=[f"infotext {request.seed}"] * len(images), seed=request.seed)


def test_generation_request_carries_every_field() -> None:
    request = CellRequest(prompt="a cat", negative_prompt="blurry", seed=5, steps=9, sampler_name="DPM++ 2M",
                          cfg_scale=5.5, width=64, height=72, lora=LoraRef("cat_v1-000002", 0.8, "/p/x.safetensors"),
                          batch_size=2, n_iter=3)
    host_request = generation_request(request)
    assert host_request.prompt == "a cat"  # the host writes the <lora:...> tag itself
    assert (host_request.negative_prompt, host_request.seed, host_request.steps) == ("blurry", 5, 9)
    assert (host_request.sampler_name, host_request.cfg_scale) == ("DPM++ 2M", 5.5)
    assert (host_request.width, host_request.height, host_request.batch_size, host_request.n_iter) == (64, 72, 2, 3)
    (network,) = host_request.extra_networks
    assert (network.name, network.weight, network.kind, network.path) == (
        "cat_v1-000002", 0.8, "lora", Path("/p/x.safetensors"))
    assert generation_request(CellRequest(prompt="x", seed=1)).extra_networks == ()


def test_a_grid_through_a_host_with_its_stop_flag_and_progress(tmp_path: Path) -> None:
    host = FakeHost(stop_after=3)
    stop = StopFlag()
    updates: list[ProgressUpdate] = []
    plan = grid_plan([epoch_checkpoint(f"/p/cat_v1-{e:06d}.safetensors", e) for e in (1, 2)], [0.5, 1.0], "a cat",
                     GenerationSettings(width=32, height=32), seed=11)
    result, saved = render_and_save(plan, host_cell_renderer(host, stop), tmp_path,
                                    progress=cell_progress(updates.append), stop=stop)
    assert all(s is stop for s in host.stops)
    assert [r.extra_networks[0].weight for r in host.requests] == [0.5, 1.0, 0.5]
    assert result.interrupted and result.done_count == 2  # the third cell was stopped mid-way
    assert updates[0] == ProgressUpdate(done=0, total=4, text="epoch 1, weight 0.5")
    assert updates[-1].done == 2 and updates[-1].fraction == 0.5
    assert saved.manifest["missing"] == [2, 3]
    assert saved.manifest["cells"][1]["infotext"] == "infotext 11"
