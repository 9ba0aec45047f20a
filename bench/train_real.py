"""One LoRA training step on a full-size model inside a real WebUI, against a bare step on the same
model objects in the same process, with the difference broken down.

*Ours* is what the Train Tools tab runs: the loaded checkpoint through the host adapter
(``WebuiHost.trainable_model()``), captions through WebUI's text path every step (the text encoder's
LoRA is trained), the UNet through WebUI's call, LoRA hooks, AdamW. *Bare* does the same math on the
very same modules and LoRA, called directly: precomputed token ids into the transformers CLIP, the UNet's
``forward`` with PyTorch's scaled-dot-product attention, no WebUI wrapper. Each phase (conditioning,
UNet forward, backward, optimizer step) is timed; the ratio is ours/bare per step (median of the steps
after a warm-up).

    WEBUI_DIR=/path/to/webui python bench/train_real.py     # 64 and 128 px, batch 1, CPU flags
    WEBUI_DIR=/path/to/forge python bench/train_real.py     # Forge: set WEBUI_ARGS to its --ckpt-dir
    python bench/train_real.py --full                       # adds 256 px
    python bench/train_real.py                              # no WEBUI_DIR: the test suite's SD1.5-shaped
                                                            # model stands in (ours = the trainer's model
                                                            # adapter), still same objects, same process

``WEBUI_PYTHON`` (default ``$WEBUI_DIR/venv/bin/python``) and ``WEBUI_ARGS`` (for example
``--ckpt-dir DIR``) are read as by the webui test tier; a full-size random SD1.5 is made by
``python -m tests.support.make_sd15_checkpoint``. Last line: ``train_real: <ours/bare at 128 px>
(goal <= 1.10)``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.10
PHASES = ("cond", "forward", "backward", "optimizer")


def _flags(webui: Path) -> list[str]:
    return ["--always-cpu"] if (webui / "modules_forge").is_dir() else ["--use-cpu", "all", "--no-half"]


def boot_webui(webui: Path) -> Any:
    """Initialise the WebUI at ``webui`` in this process (as its webui.py does) and return our host."""
    os.chdir(webui)
    sys.path[:0] = [str(webui), str(REPO)]
    sys.argv = [str(webui / "launch.py"), "--skip-prepare-environment", "--skip-torch-cuda-test",
                *_flags(webui), *shlex.split(os.environ.get("WEBUI_ARGS", ""))]
    with contextlib.suppress(ImportError):
        from modules_forge.initialization import initialize_forge

        initialize_forge()
    from modules import initialize

    initialize.imports()
    initialize.initialize()
    from model_workbench.webui.host import WebuiHost

    return WebuiHost()


def sdpa_forward(module: Any) -> Callable[..., Any]:
    """A CrossAttention forward on PyTorch's fused attention (LDM's and Forge's modules alike)."""
    import torch.nn.functional as F

    def forward(x: Any, context: Any = None, mask: Any = None, value: Any = None, **_: Any) -> Any:
        context = x if context is None else context
        q, k, v = module.to_q(x), module.to_k(context), module.to_v(context if value is None else value)
        b, n, _d = q.shape
        heads = module.heads
        q, k, v = (t.reshape(b, -1, heads, t.shape[-1] // heads).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, -1)
        return module.to_out(out)

    return forward


@contextlib.contextmanager
def bare_attention(unet: Any) -> Iterator[None]:
    patched = [m for m in unet.modules() if type(m).__name__ == "CrossAttention"]
    for m in patched:
        m.forward = sdpa_forward(m)
    try:
        yield
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)


def bare_text(model: Any) -> Callable[[Any], Any]:
    """Token ids → last hidden state, straight through the CLIP text model behind the (first) encoder."""
    encoder = model.text_encoders[0]
    for path in ("wrapped.transformer", "transformer"):
        found = encoder
        for part in path.split("."):
            found = getattr(found, part, None)
        if found is not None:
            if hasattr(found, "config"):  # transformers CLIPTextModel
                return lambda ids: found(ids).last_hidden_state
            return found.text_model  # the test suite's stand-in
    raise RuntimeError("no CLIP text model found in the text encoder")


def timed(phases: dict[str, list[float]], name: str, start: float) -> float:
    now = time.perf_counter()
    phases[name].append(now - start)
    return now


def run(model: Any, size: int, steps: int, bare: bool) -> dict[str, float]:

    from model_workbench.training.trainer import preserved_model_flags

    with preserved_model_flags(model.root):
        model.root.requires_grad_(False)  # as the trainer does: only the LoRA learns
        return _run(model, size, steps, bare)


def _run(model: Any, size: int, steps: int, bare: bool) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    from model_workbench.training.network import LoRANetwork

    torch.manual_seed(0)
    net = LoRANetwork(model.root, model.family, 8, 8).to(model.device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-5)
    captions = ["a photo of a small square, studio light"]
    ids = torch.randint(1, 49407, (1, 77), device=model.device)
    latent = torch.randn(1, 4, size // 8, size // 8, device=model.device)
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    text = bare_text(model)
    with net, (bare_attention(model.unet) if bare else contextlib.nullcontext()):
        for _ in range(steps):
            t = time.perf_counter()
            cond = text(ids) if bare else model.encode_captions(captions, 1)
            t = timed(phases, "cond", t)
            timesteps = torch.randint(0, 1000, (1,), device=model.device)
            noise = torch.randn_like(latent)
            if bare:
                pred = model.unet(latent.to(model.dtype), timesteps, context=cond.to(model.dtype))
            else:
                pred = model.predict(latent.to(model.dtype), timesteps, cond)
            t = timed(phases, "forward", t)
            F.mse_loss(pred.float(), noise).backward()
            t = timed(phases, "backward", t)
            opt.step()
            opt.zero_grad(set_to_none=True)
            timed(phases, "optimizer", t)
    warm = 2 if steps > 3 else 1
    return {p: statistics.median(v[warm:]) for p, v in phases.items()}


def report(label: str, size: int, ours: dict[str, float], bare: dict[str, float]) -> float:
    total_ours, total_bare = sum(ours.values()), sum(bare.values())
    parts = ", ".join(f"{p} {ours[p]:.2f}/{bare[p]:.2f}" for p in PHASES)
    print(f"{label} {size} px: ours {total_ours:.2f} s, bare {total_bare:.2f} s, ratio {total_ours / total_bare:.2f} "
          f"(s ours/bare: {parts})", flush=True)
    return total_ours / total_bare


def inside(sizes: list[int], steps: int) -> None:
    host = boot_webui(Path(os.environ["WEBUI_DIR"]))
    ratios = {}
    with host.gpu_lock("model-workbench-bench"), host.trainable_model() as model:
        label = host.capabilities().name
        run(model, sizes[0], 2, bare=True)  # warm-up: first allocations and lazy set-up, not timed
        run(model, sizes[0], 2, bare=False)
        for size in sizes:
            bare = run(model, size, steps, bare=True)
            ours = run(model, size, steps, bare=False)
            ratios[size] = report(label, size, ours, bare)
    print(f"train_real: {ratios.get(128, list(ratios.values())[-1]):.2f} (goal <= {GOAL:.2f})")


def standalone(sizes: list[int], steps: int) -> None:
    """No WebUI: the test suite's SD1.5-shaped model behind the same protocol (CPU, float32)."""
    sys.path.insert(0, str(REPO))
    from tests.support.tiny_diffusion import TinyDiffusionModel

    model = TinyDiffusionModel.sd15_shaped(device="cpu", dtype=__import__("torch").float32)
    model.text_encoders = [model.root.cond_stage_model]  # type: ignore[attr-defined]
    ratios = {}
    run(model, sizes[0], 2, bare=True)  # warm-up, not timed
    for size in sizes:
        bare = run(model, size, steps, bare=True)
        ours = run(model, size, steps, bare=False)
        ratios[size] = report("SD1.5-shaped test model", size, ours, bare)
    print(f"train_real: {ratios.get(128, list(ratios.values())[-1]):.2f} (goal <= {GOAL:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 256 px")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [64, 128, 256] if args.full else [64, 128]
    webui = os.environ.get("WEBUI_DIR")
    if args.inside:
        inside(sizes, args.steps)
    elif webui:
        python = os.environ.get("WEBUI_PYTHON") or str(Path(webui) / "venv" / "bin" / "python")
        command = [python, str(Path(__file__).resolve()), "--inside", "--steps", str(args.steps)]
        done = subprocess.run([*command, *(["--full"] if args.full else [])], capture_output=True, text=True,
                              cwd=webui)
        lines = done.stdout.splitlines()
        ours = [line for line in lines if " px: " in line or line.startswith("train_real:")]
        print("\n".join(ours) if ours else "\n".join((lines + done.stderr.splitlines())[-30:]))
        if not ours:
            sys.exit(1)
    else:
        standalone(sizes, args.steps)


if __name__ == "__main__":
    main()
