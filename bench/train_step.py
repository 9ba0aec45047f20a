"""One LoRA training step through the trainer vs a bare torch loop doing the same math.

Both train the same tiny diffusion model (tests/support/tiny_diffusion.py) with the same LoRA
modules (rank, alpha, targets), the same cached latents and captions, AdamW, gradient clipping and
a LambdaLR. The trainer's time per step is measured from its progress callback (setup, latent
caching and checkpoint saving excluded); the bare loop is timed the same way. Each run gives its
median step time; the best of the alternating rounds is compared. Prints the ratio
trainer/bare as the last line; goal ≤ 1.05.

    python bench/train_step.py          # small: 64 px, batch 4, 50 steps × 7 rounds
    python bench/train_step.py --full   # 128 px, batch 8, wider UNet
    python bench/train_step.py --sd15   # CUDA only: SD1.5-shaped model, 512 px, batch 1, fp16,
                                        # it/s and peak VRAM with gradient checkpointing off and on
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from model_workbench.training.config import TrainingConfig  # noqa: E402
from model_workbench.training.dataset import TrainingDataset, scan_dataset  # noqa: E402
from model_workbench.training.network import LoRANetwork  # noqa: E402
from model_workbench.training.schedulers import make_scheduler  # noqa: E402
from model_workbench.training.trainer import Progress, Trainer  # noqa: E402
from tests.support.tiny_dataset import make_concept_folder  # noqa: E402
from tests.support.tiny_diffusion import TinyDiffusionModel, single_thread  # noqa: E402


def per_step(stamps: list[float], warmup: int) -> float:
    """Median step time after warm-up: robust to other processes stealing the CPU for a moment."""
    return statistics.median(b - a for a, b in zip(stamps[warmup - 1 : -1], stamps[warmup:], strict=True))


def trainer_step_time(data: Path, out: Path, cfg_kw: dict, channels: int, steps: int, warmup: int) -> float:
    model = TinyDiffusionModel(channels=channels)
    stamps: list[float] = []

    def progress(p: Progress) -> None:
        stamps.append(time.perf_counter())

    cfg = TrainingConfig(train_data_dir=str(data), output_dir=str(out), max_train_epochs=None, max_train_steps=steps,
                         save_every_n_epochs=None, save_state=False, **cfg_kw)
    Trainer(model, cfg, on_progress=progress).run()
    return per_step(stamps, warmup)


def bare_step_time(data: Path, cfg_kw: dict, channels: int, steps: int, warmup: int) -> float:
    model = TinyDiffusionModel(channels=channels)
    cfg = TrainingConfig(train_data_dir=str(data), **cfg_kw)
    ds = TrainingDataset(scan_dataset(data), cfg)
    latents = model.encode_images(torch.stack([item.pixels for item in ds.items]))
    captions = [item.caption for item in ds.items]
    root = model.root
    root.requires_grad_(False)
    root.eval()
    torch.manual_seed(0)
    net = LoRANetwork(root, "sd1", cfg.network_dim, cfg.network_alpha)
    opt = torch.optim.AdamW([{"params": net.unet_parameters(), "lr": cfg.learning_rate},
                             {"params": net.text_encoder_parameters(), "lr": cfg.learning_rate}], lr=cfg.learning_rate)
    sched = make_scheduler(opt, cfg.lr_scheduler, steps)
    params = list(net.parameters())
    acp = model.alphas_cumprod
    stamps = []
    with net:
        for _ in range(steps):
            idx = torch.randint(0, len(captions), (cfg.train_batch_size,))
            x0 = latents[idx]
            cond = model.encode_captions([captions[i] for i in idx], 1)
            noise = torch.randn_like(x0)
            t = torch.randint(0, 1000, (x0.shape[0],))
            a = acp[t].view(-1, 1, 1, 1)
            pred = model.predict(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, cond)
            loss = F.mse_loss(pred.float(), noise.float())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            float(loss.detach())
            stamps.append(time.perf_counter())
    return per_step(stamps, warmup)


def sd15_figures(make_model, size: int, steps: int, gradient_checkpointing: bool, device: str) -> tuple[float, float]:
    """(it/s, peak memory in GiB) for fp16 LoRA training at ``size`` px, batch 1."""
    with tempfile.TemporaryDirectory() as tmp:
        data = make_concept_folder(Path(tmp) / "data", n=4, sizes=[(size, size)])
        model = make_model()
        stamps: list[float] = []

        def progress(p: Progress) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        cfg = TrainingConfig(train_data_dir=str(data), output_dir=str(Path(tmp) / "out"), output_name="sd15",
                             resolution=str(size), train_batch_size=1, network_dim=32, network_alpha=16,
                             learning_rate=1e-4, max_train_epochs=None, max_train_steps=steps,
                             mixed_precision="fp16", gradient_checkpointing=gradient_checkpointing,
                             save_every_n_epochs=None, save_state=False, seed=0)
        Trainer(model, cfg, on_progress=progress).run()
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
        return 1.0 / per_step(stamps, min(5, steps - 1)), peak


def main_sd15(steps: int = 30) -> None:
    """SD1.5-shaped random model, 512×512, batch 1, fp16: it/s and peak VRAM, checkpointing off/on."""
    if not torch.cuda.is_available():
        print("train_step_sd15: needs a CUDA GPU; none here (goal: measure on the card)")
        return
    card = torch.cuda.get_device_name(0)
    rows = []
    for gc in (False, True):
        its, peak = sd15_figures(lambda: TinyDiffusionModel.sd15_shaped("cuda", torch.float16), 512, steps, gc, "cuda")
        rows.append((gc, its, peak))
        print(f"{card}: SD1.5-shaped, 512 px, batch 1, fp16, rank 32, gradient checkpointing "
              f"{'on ' if gc else 'off'}: {its:.2f} it/s, peak VRAM {peak:.2f} GiB")
    (_, off_its, off_peak), (_, on_its, on_peak) = rows
    print(f"train_step_sd15: {off_its:.2f} it/s, {off_peak:.2f} GiB (checkpointing off); "
          f"{on_its:.2f} it/s, {on_peak:.2f} GiB (on) on {card} (goal: measure)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="bigger sizes")
    parser.add_argument("--sd15", action="store_true", help="SD1.5-shaped model at 512 px on a CUDA GPU")
    args = parser.parse_args()
    if args.sd15:
        main_sd15()
        return
    size, batch, channels, steps, rounds = (128, 8, 64, 30, 4) if args.full else (64, 4, 32, 50, 7)
    warmup = 10
    cfg_kw = dict(resolution=str(size), train_batch_size=batch, network_dim=8, network_alpha=8, learning_rate=1e-3,
                  seed=0, output_name="bench")
    with tempfile.TemporaryDirectory() as tmp, single_thread():
        data = make_concept_folder(Path(tmp) / "data", n=batch, sizes=[(size, size)])
        ours, bare = [], []
        for r in range(rounds):
            ours.append(trainer_step_time(data, Path(tmp) / f"out{r}", cfg_kw, channels, steps, warmup))
            bare.append(bare_step_time(data, cfg_kw, channels, steps, warmup))
    # Best round of each: the least disturbed measurement of the same work.
    o, b = min(ours), min(bare)
    print(f"device: cpu (1 thread); {size}px, batch {batch}, UNet width {channels}, rank 8, {steps} steps × {rounds}")
    print(f"trainer step: {o * 1000:.1f} ms   bare torch step: {b * 1000:.1f} ms")
    print(f"train_step: {o / b:.3f}x bare torch step (goal <= 1.05)")


if __name__ == "__main__":
    main()
