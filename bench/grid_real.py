"""A preview grid on a full-size model inside a real WebUI, against the same cells as plain txt2img calls.

Two epochs × three weights (six cells) of a LoRA for the loaded checkpoint, rendered by the Train Tools
tab's own path (``PreviewService.preview_all``: one job, one fixed seed, the labelled grid PNG and its
manifest written); the baseline, in the same process, renders the same six prompts with ``<lora:…:W>``
through ``processing.process_images`` one by one, as a user would in txt2img, with nothing saved. The
figure is the grid's wall time over the sum of the plain generations.

    WEBUI_DIR=/path/to/webui WEBUI_ARGS="--ckpt-dir DIR" python bench/grid_real.py   # 128 px, 4 steps
    ... python bench/grid_real.py --full                                             # 256 px, 8 steps
    python bench/grid_real.py                                                        # no WEBUI_DIR: says so

The LoRA files are random (kohya SD1.5 keys from tests/data/lora-keys, rank 4), so they need an SD1.5
checkpoint (``python -m tests.support.make_sd15_checkpoint``). Last line:
``grid_real: <grid / plain> (goal <= 1.05)``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.05
WEIGHTS = (0.5, 1.0, 1.5)
PROMPT = "a photo of a small square, studio light"
SEED = 1234


def random_lora(path: Path, seed: int) -> None:
    import torch
    from safetensors.torch import save_file

    rows = json.loads((REPO / "tests" / "data" / "lora-keys" / "lora-keys-sd15.json").read_text())["modules"]
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for row in rows:
        down = [4 if d == "r" else d for d in row["lora_down_shape"]]
        up = [4 if d == "r" else d for d in row["lora_up_shape"]]
        tensors[f"{row['kohya_key']}.lora_down.weight"] = torch.randn(down, generator=g) * 0.05
        tensors[f"{row['kohya_key']}.lora_up.weight"] = torch.randn(up, generator=g) * 0.05
        tensors[f"{row['kohya_key']}.alpha"] = torch.tensor(4.0)
    save_file(tensors, str(path), metadata={"ss_output_name": path.stem, "ss_base_model_version": "sd_v1"})


def inside(size: int, steps: int) -> None:
    sys.path.insert(0, str(REPO))
    from bench.train_real import boot_webui
    from model_workbench.host import ExtraNetwork, GenerationRequest
    from model_workbench.preview.plan import GenerationSettings
    from model_workbench.training import projects
    from model_workbench.training.previews import PreviewService
    from model_workbench.training.projects import create_project, create_version

    host = boot_webui(Path(os.environ["WEBUI_DIR"]))
    from modules import processing  # noqa: PLC0415 - WebUI's, importable only once booted

    root = Path(tempfile.mkdtemp(prefix="grid-real-"))
    paths = create_project(root, "bench")
    create_version(root, "bench", "v1")
    files = []
    for epoch in (1, 2):
        target = paths.checkpoints / projects.checkpoint_filename(paths.name, "v1", epoch)
        random_lora(target, epoch)
        files.append(target)
    service = PreviewService(host, root=root)
    refs = service.refs("bench", "v1")
    settings = GenerationSettings(steps=steps, sampler_name="Euler", cfg_scale=5.0, width=size, height=size)
    requests = [GenerationRequest(prompt=PROMPT, seed=SEED, steps=steps, sampler_name="Euler", cfg_scale=5.0,
                                  width=size, height=size,
                                  extra_networks=(ExtraNetwork(ref.lora_name, w, path=Path(ref.path)),))
                for ref in refs for w in WEIGHTS]
    with host.gpu_lock("warm-up"):
        host.generate(requests[0])  # loads the model and first LoRA; not timed
    plain = 0.0
    for request in requests:  # what a user does by hand in txt2img, one generation after another
        with host.gpu_lock("plain"):
            host._register_extra_networks(request)
            p = host.build_processing(request)
            started = time.perf_counter()
            processing.process_images(p)
            plain += time.perf_counter() - started
    spent: dict[str, float] = {}
    for name in ("_forge_fresh_loras", "_unmerge_loras", "generate"):
        original = getattr(host, name)

        def timed(*args, _original=original, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t

        setattr(host, name, timed)
    started = time.perf_counter()
    outcome = service.preview_all("bench", "v1", ", ".join(str(w) for w in WEIGHTS), PROMPT, settings, seed=SEED)
    grid = time.perf_counter() - started
    done = sum(1 for c in outcome.cells() if c.get("status") == "done")
    print(f"{host.capabilities().name}, {size} px, {steps} steps: grid {grid:.2f} s for {done} cells, plain "
          f"{plain:.2f} s ({plain / len(requests):.2f} s a cell); inside the grid: "
          + ", ".join(f"{k.strip('_')} {v:.2f} s" for k, v in spent.items()), flush=True)
    print(f"grid_real: {grid / plain:.3f} (goal <= {GOAL:.2f})")
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="256 px, 8 steps")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size, steps = (256, 8) if args.full else (128, 4)
    webui = os.environ.get("WEBUI_DIR")
    if args.inside:
        inside(size, steps)
        return
    if not webui:
        print("grid_real needs a WebUI: set WEBUI_DIR (and WEBUI_ARGS with a --ckpt-dir holding an SD1.5); "
              "bench/grid_overhead.py measures the same overhead without one.")
        print(f"grid_real: not measured (goal <= {GOAL:.2f})")
        return
    python = os.environ.get("WEBUI_PYTHON") or str(Path(webui) / "venv" / "bin" / "python")
    done = subprocess.run([python, str(Path(__file__).resolve()), "--inside", *(["--full"] if args.full else [])],
                          capture_output=True, text=True, cwd=webui)
    lines = [line for line in done.stdout.splitlines() if " px, " in line or line.startswith("grid_real:")]
    print("\n".join(lines) if lines else "\n".join((done.stdout.splitlines() + done.stderr.splitlines())[-30:]))
    if not lines:
        sys.exit(1)


if __name__ == "__main__":
    main()
