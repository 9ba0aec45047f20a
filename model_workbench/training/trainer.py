"""The LoRA training loop (kohya train_network.py semantics), in-process on a TrainableModel.

Per step: latents (cached or encoded) → noise (+ offset) → random timesteps → noisy latents →
the model's ε or v prediction → MSE per sample (× min-SNR weight) → optimizer step (kohya's
optimizer_type, AdamW by default) with separate UNet and text-encoder learning rates → scheduler
step. Checkpoints are kohya LoRA files named ``<output>-<epoch:06d>.safetensors``
(``<output>-step<N:08d>`` for step saves); beside them, ``<output>-state/state.pt`` holds what a
resume needs (fp32 network, optimizer, scheduler, grad scaler, position, seed).

Determinism: batch order comes from (seed, epoch) and every step reseeds torch from
(seed, epoch, batch) inside a forked RNG, so a resumed run repeats the uninterrupted one and the host
process's global RNG is left as it was.

Exception safety: whatever happens, the network is removed and every parameter's
``requires_grad`` and every module's train/eval flag are restored; base weights are never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import messages
from .checkpoint import (
    RunInfo,
    build_metadata,
    epoch_file_name,
    modelspec_metadata,
    save_lora,
    step_file_name,
)
from .config import TrainingConfig
from .continue_from import load_network_weights
from .dataset import TrainingDataset, scan_dataset
from .network import LoRANetwork
from .optimizers import make_optimizer
from .protocol import Conditioning, SizeInfo, TrainableModel, check_model
from .schedulers import make_scheduler, warmup_steps_for

STATE_FILE = "state.pt"
# Settings that change the trajectory: a resume with different values is refused.
_RESUME_KEYS = (
    "network_dim", "network_alpha", "learning_rate", "unet_lr", "text_encoder_lr", "lr_scheduler",
    "lr_warmup_steps", "lr_scheduler_num_cycles", "lr_scheduler_power", "train_batch_size",
    "max_train_epochs", "max_train_steps", "seed", "resolution", "enable_bucket", "gradient_accumulation_steps",
    "conv_dim", "conv_alpha", "network_weights", "optimizer_type",
)


@dataclass
class Progress:
    step: int
    total_steps: int
    epoch: int
    total_epochs: int
    loss: float
    average_loss: float
    lr: float  # the UNet group's lr (the text encoder's when only it trains)
    lrs: list[float]
    it_per_s: float


@dataclass
class SampleRequest:
    """Passed to the sample callback while the LoRA is applied and the model is in eval mode."""

    epoch: int
    step: int
    prompts: list[str]
    seed: int
    network: LoRANetwork


@dataclass
class TrainResult:
    checkpoints: list[Path] = field(default_factory=list)
    interrupted: bool = False
    steps: int = 0
    total_steps: int = 0
    epochs_done: int = 0
    last_loss: float = float("nan")
    losses: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    state_dir: Path | None = None
    message: str = ""


def _stop_fn(stop: threading.Event | Callable[[], bool] | None) -> Callable[[], bool]:
    if stop is None:
        return lambda: False
    if isinstance(stop, threading.Event):
        return stop.is_set
    return stop


def _reseed(device: torch.device, value: int) -> None:
    """Seed the default generators the step draws from (noise, timesteps, dropout).

    Cheaper than torch.manual_seed (which also seeds every other backend: ~2 ms a call).
    """
    torch.default_generator.manual_seed(value)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        torch.cuda.default_generators[index].manual_seed(value)


def _grad_scaler():
    # torch >= 2.3 has torch.amp.GradScaler("cuda"); WebUI 1.10 ships torch 2.1 (torch.cuda.amp).
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


@contextlib.contextmanager
def preserved_model_flags(root: nn.Module) -> Iterator[None]:
    """Restore every parameter's requires_grad and every module's training flag on exit."""
    grads = [(p, p.requires_grad) for p in root.parameters()]
    modes = [(m, m.training) for m in root.modules()]
    try:
        yield
    finally:
        for p, flag in grads:
            p.requires_grad_(flag)
        for m, flag in modes:
            m.training = flag


class TrainingDiverged(ValueError):
    """The loss or the LoRA's weights stopped being finite numbers: nothing after this is worth saving."""


class Trainer:
    def __init__(
        self,
        model: TrainableModel,
        config: TrainingConfig,
        dataset: TrainingDataset | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_sample: Callable[[SampleRequest], None] | None = None,
        on_checkpoint: Callable[[Path, int, int], None] | None = None,
        stop: threading.Event | Callable[[], bool] | None = None,
        run_info: RunInfo | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.dataset = dataset
        self.on_progress = on_progress
        self.on_sample = on_sample
        self.on_checkpoint = on_checkpoint
        self.should_stop = _stop_fn(stop)
        self.run_info = run_info or RunInfo()
        self.problems: list[str] = []
        # The LoRA file this run started from (network_weights): its name and sha256, for the metadata.
        self._weights_source: dict[str, str] | None = None

    # -- paths ---------------------------------------------------------------------------------
    @property
    def output_dir(self) -> Path:
        return Path(self.config.output_dir or ".")

    @property
    def state_dir(self) -> Path:
        return self.output_dir / f"{self.config.output_name}-state"

    def has_resumable_state(self) -> bool:
        return (self.state_dir / STATE_FILE).is_file()

    # -- setup ---------------------------------------------------------------------------------
    def _check(self) -> None:
        self.config.validate()
        check_model(self.model)
        model_v = self.model.prediction_type == "v"
        if self.config.v_parameterization != model_v:
            raise ValueError(messages.V_PARAM_MISMATCH.format(
                model="v" if model_v else "epsilon (noise)", setting="on" if self.config.v_parameterization else "off"))

    def _prepare_dataset(self) -> TrainingDataset:
        if self.dataset is None:
            scan = scan_dataset(self.config.train_data_dir, self.config.caption_extension)
            self.problems.extend(scan.problems)
            self.dataset = TrainingDataset(scan, self.config)
        else:
            self.problems.extend(self.dataset.scan.problems)
        return self.dataset

    def _precision(self, device: torch.device) -> tuple[torch.dtype | None, bool]:
        """(autocast dtype or None, use a GradScaler)."""
        mp = self.config.mixed_precision
        if mp == "no":
            return None, False
        if device.type != "cuda":
            self.problems.append(messages.FP16_ON_CPU.format(precision=mp))
            return None, False
        return (torch.float16, True) if mp == "fp16" else (torch.bfloat16, False)

    # -- main ----------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainResult:
        """Train. With ``resume``, continue from ``<output>-state`` (raises if there is none)."""
        self._check()
        cfg = self.config
        dataset = self._prepare_dataset()
        model = self.model
        device = model.device
        root = model.root

        state = self._load_state() if resume else None
        seed = int(state["seed"]) if state else (cfg.seed if cfg.seed is not None else random.randint(0, 2**31 - 1))
        bpe = dataset.batches_per_epoch()
        # Steps are optimizer steps: with gradient accumulation, ceil(batches / N) per epoch.
        steps_per_epoch = math.ceil(bpe / cfg.gradient_accumulation_steps)
        if cfg.max_train_epochs is not None:
            total_epochs = cfg.max_train_epochs
            total_steps = total_epochs * steps_per_epoch
        else:
            total_steps = cfg.max_train_steps
            total_epochs = math.ceil(total_steps / steps_per_epoch)
        unet_lr, te_lr = cfg.effective_unet_lr(), cfg.effective_text_encoder_lr()
        train_te = te_lr > 0
        autocast_dtype, use_scaler = self._precision(device)

        run = dataclasses.replace(
            self.run_info,
            family=model.family,
            prediction_type=model.prediction_type,
            session_id=int(state["session_id"]) if state else random.randint(0, 2**31 - 1),
            training_started_at=float(state["training_started_at"]) if state else time.time(),
            num_train_images=dataset.scan.num_train_images,
            num_batches_per_epoch=bpe,
            num_epochs=total_epochs,
            max_train_steps=total_steps,
            lr_warmup_steps=warmup_steps_for(cfg.lr_warmup_steps, total_steps),
            seed=seed,
            dataset_dirs=dataset.scan.dataset_dirs,
            tag_frequency=dataset.scan.tag_frequency,
            bucket_info=dataset.bucket_info,
        )
        metadata = build_metadata(cfg, run)
        result = TrainResult(total_steps=total_steps, problems=self.problems, state_dir=self.state_dir)

        fork_devices = [device] if device.type == "cuda" else []
        with preserved_model_flags(root), torch.random.fork_rng(devices=fork_devices):
            root.requires_grad_(False)
            root.eval()
            torch.manual_seed(seed)
            network = LoRANetwork(
                root, model.family, cfg.network_dim, cfg.network_alpha,
                train_unet=unet_lr > 0, train_text_encoder=train_te,
                dropout=cfg.network_dropout, rank_dropout=cfg.rank_dropout, module_dropout=cfg.module_dropout,
                conv_dim=cfg.conv_dim, conv_alpha=cfg.conv_alpha,
            ).to(device)
            if not list(network.parameters()):
                raise ValueError(messages.NOTHING_TO_TRAIN)
            if cfg.network_weights and not state:
                # kohya's network_weights: start from the file (a resume has its own, later weights).
                source = load_network_weights(network, cfg.network_weights)
                self._weights_source = {"name": source.name, "sha256": source.sha256}
            elif state:
                self._weights_source = state.get("network_weights_source")
            if self._weights_source:
                metadata["ss_network_weights"] = self._weights_source["name"]
                metadata["ss_network_weights_sha256"] = self._weights_source["sha256"]
            groups = []
            if unet_lr > 0 and network.unet_parameters():
                groups.append({"params": network.unet_parameters(), "lr": unet_lr})
            if train_te and network.text_encoder_parameters():
                groups.append({"params": network.text_encoder_parameters(), "lr": te_lr})
            optimizer = make_optimizer(cfg.optimizer_type, groups, cfg.learning_rate)
            scheduler = make_scheduler(optimizer, cfg.lr_scheduler, total_steps, cfg.lr_warmup_steps,
                                       cfg.lr_scheduler_num_cycles, cfg.lr_scheduler_power)
            scaler = _grad_scaler() if use_scaler else None

            global_step, start_epoch, start_batch = 0, 1, 0
            if state:
                network.load_state_dict(state["network"])
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
                if scaler is not None and state.get("scaler"):
                    scaler.load_state_dict(state["scaler"])
                global_step, start_epoch, start_batch = int(state["step"]), int(state["epoch"]), int(state["batch"])
                result.epochs_done = start_epoch - 1
                result.steps = global_step
                result.checkpoints = [Path(p) for p in state.get("checkpoints", [])]
                result.losses = list(state.get("losses", []))

            latent_cache = self._cache_latents(dataset) if cfg.cache_latents else None
            acp = model.alphas_cumprod.to(device=device, dtype=torch.float32)
            gc_on = bool(cfg.gradient_checkpointing)
            if gc_on:
                model.set_gradient_checkpointing(True)
            network.train()
            try:
                with network:
                    self._loop(
                        network, optimizer, scheduler, scaler, dataset, latent_cache, acp, autocast_dtype,
                        seed, global_step, start_epoch, start_batch, total_steps, total_epochs, train_te,
                        metadata, run, result,
                    )
            finally:
                if gc_on:
                    model.set_gradient_checkpointing(False)
        return result

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self, network, optimizer, scheduler, scaler, dataset, latent_cache, acp, autocast_dtype, seed,
              global_step, start_epoch, start_batch, total_steps, total_epochs, train_te, metadata, run, result):
        cfg = self.config
        device = self.model.device
        params = [p for g in optimizer.param_groups for p in g["params"]]
        window: list[float] = []
        started = time.perf_counter()
        steps_this_run = 0
        if global_step == 0 and (cfg.sample_every_n_epochs or cfg.sample_every_n_steps):
            # Before the first step (kohya's sample_at_first): the LoRA still adds nothing, so this is the
            # base model with the sample prompts and seed, the picture every later sample is compared with.
            self._sample(network, 0, 0, seed)
        for epoch in range(start_epoch, total_epochs + 1):
            batches = dataset.epoch_batches(epoch, seed)
            first = start_batch if epoch == start_epoch else 0
            accumulate = cfg.gradient_accumulation_steps
            for b in range(first, len(batches), accumulate):
                if global_step >= total_steps:
                    break
                if self.should_stop():
                    self._interrupt(network, optimizer, scheduler, scaler, seed, run, result, global_step, epoch, b)
                    return
                group = range(b, min(b + accumulate, len(batches)))
                micro_losses = []
                for micro in group:
                    # Each batch's randomness depends only on (seed, epoch, batch): resumable.
                    _reseed(device, hash((seed, epoch, micro)) & 0x7FFF_FFFF_FFFF_FFFF)
                    rng = random.Random(f"captions:{seed}:{epoch}:{micro}")
                    samples = dataset.make_samples(batches[micro], epoch, rng)
                    micro_losses.append(self._forward_backward(
                        dataset, latent_cache, acp, autocast_dtype, samples, rng, train_te, scaler, 1.0 / len(group)))
                loss = sum(micro_losses) / len(micro_losses)
                if not math.isfinite(loss):
                    raise TrainingDiverged(messages.LOSS_NOT_FINITE.format(step=global_step + 1, epoch=epoch))
                self._optimizer_step(optimizer, scheduler, scaler, params)
                global_step += 1
                steps_this_run += 1
                result.steps = global_step
                result.last_loss = loss
                result.losses.append(loss)
                window = (window + [loss])[-50:]
                if self.on_progress:
                    elapsed = max(1e-9, time.perf_counter() - started)
                    lrs = [float(g["lr"]) for g in optimizer.param_groups]
                    self.on_progress(Progress(global_step, total_steps, epoch, total_epochs, loss,
                                              sum(window) / len(window), lrs[0], lrs, steps_this_run / elapsed))
                if cfg.save_every_n_steps and global_step % cfg.save_every_n_steps == 0 and global_step < total_steps:
                    self._save(network, optimizer, scheduler, scaler, seed, run, result, metadata,
                               step_file_name(cfg.output_name, global_step), global_step, epoch, group.stop)
                if cfg.sample_every_n_steps and global_step % cfg.sample_every_n_steps == 0:
                    self._sample(network, epoch, global_step, seed)
            else:
                result.epochs_done = epoch
                last = epoch == total_epochs or global_step >= total_steps
                every = cfg.save_every_n_epochs
                if last or (every and epoch % every == 0):
                    self._save(network, optimizer, scheduler, scaler, seed, run, result, metadata,
                               epoch_file_name(cfg.output_name, epoch), global_step, epoch + 1, 0)
                if cfg.sample_every_n_epochs and (epoch % cfg.sample_every_n_epochs == 0 or last):
                    self._sample(network, epoch, global_step, seed)
                if global_step >= total_steps:
                    break
                continue
            # max steps reached inside the epoch
            result.epochs_done = epoch
            self._save(network, optimizer, scheduler, scaler, seed, run, result, metadata,
                       epoch_file_name(cfg.output_name, epoch), global_step, epoch + 1, 0)
            if cfg.sample_every_n_epochs:
                self._sample(network, epoch, global_step, seed)
            break

    def _forward_backward(self, dataset, latent_cache, acp, autocast_dtype, samples, rng, train_te, scaler,
                          loss_scale: float) -> float:
        """One micro-batch: loss, backward (gradients accumulate); returns the unscaled loss."""
        cfg = self.config
        model = self.model
        device = model.device
        if latent_cache is not None:
            latents = torch.stack([latent_cache[(s.index, s.flip)] for s in samples]).to(device)
        else:
            pixels = torch.stack([dataset.pixels(s.index, s.flip, rng) for s in samples])
            latents = model.encode_images(pixels.to(device))
        latents = torch.nan_to_num(latents.float(), nan=0.0)
        sizes = self._sizes(dataset, samples) if model.family == "sdxl" else None
        captions = [s.caption for s in samples]
        clip_skip = cfg.clip_skip or 1

        autocast = (torch.autocast(device_type=device.type, dtype=autocast_dtype)
                    if autocast_dtype is not None else contextlib.nullcontext())
        with autocast:
            if train_te:
                cond = model.encode_captions(captions, clip_skip, sizes)
            else:
                with torch.no_grad():
                    cond = model.encode_captions(captions, clip_skip, sizes)
                cond = Conditioning(cond.crossattn.detach(), None if cond.vector is None else cond.vector.detach())

            noise = torch.randn_like(latents)
            if cfg.noise_offset:
                noise = noise + cfg.noise_offset * torch.randn((latents.shape[0], latents.shape[1], 1, 1), device=device)
            b = latents.shape[0]
            timesteps = torch.randint(0, acp.shape[0], (b,), device=device)
            a = acp[timesteps].view(b, 1, 1, 1)
            noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
            model_dtype = model.dtype
            pred = model.predict(noisy.to(model_dtype) if autocast_dtype is None else noisy, timesteps, cond)

        target = a.sqrt() * noise - (1 - a).sqrt() * latents if model.prediction_type == "v" else noise
        loss = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=[1, 2, 3])
        if cfg.min_snr_gamma:
            snr = acp[timesteps] / (1 - acp[timesteps])
            gamma = torch.clamp(snr, max=cfg.min_snr_gamma)
            loss = loss * (gamma / (snr + 1) if model.prediction_type == "v" else gamma / snr)
        loss = loss.mean()
        scaled = loss * loss_scale if loss_scale != 1.0 else loss
        if scaler is not None:
            scaler.scale(scaled).backward()
        else:
            scaled.backward()
        return float(loss.detach())

    def _optimizer_step(self, optimizer, scheduler, scaler, params) -> None:
        cfg = self.config
        if scaler is not None:
            scaler.unscale_(optimizer)
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    def _sizes(self, dataset: TrainingDataset, samples) -> list[SizeInfo]:
        out = []
        for s in samples:
            item = dataset.items[s.index]
            w, h = item.size
            bw, bh = item.bucket.reso  # type: ignore[union-attr]
            out.append(SizeInfo((h, w), item.crop_top_left, (bh, bw)))
        return out

    @torch.no_grad()
    def _cache_latents(self, dataset: TrainingDataset) -> dict[tuple[int, bool], torch.Tensor]:
        """Encode each image once (and its mirror when flip_aug is on), as --cache_latents does."""
        cache: dict[tuple[int, bool], torch.Tensor] = {}
        flips = (False, True) if self.config.flip_aug else (False,)
        for i in range(len(dataset.items)):
            for flip in flips:
                pixels = dataset.pixels(i, flip, random.Random(i))[None].to(self.model.device)
                cache[(i, flip)] = self.model.encode_images(pixels)[0].float()
        return cache

    # -- saving / sampling / interrupt ----------------------------------------------------------
    def _save(self, network, optimizer, scheduler, scaler, seed, run, result, metadata, file_name,
              step, next_epoch, next_batch) -> None:
        cfg = self.config
        # Checked here, not every step: one pass per saved file, no per-parameter GPU sync in the loop
        # (a NaN weight shows in the next step's loss anyway).
        if not all(bool(torch.isfinite(p).all()) for p in network.parameters()):
            raise TrainingDiverged(messages.WEIGHTS_NOT_FINITE.format(step=step, epoch=result.epochs_done))
        path = self.output_dir / file_name
        meta = dict(metadata)
        meta["ss_training_finished_at"] = str(time.time())
        meta["ss_steps"] = str(step)
        meta["ss_epoch"] = str(result.epochs_done)
        # WebUI uses ss_output_name as the alias; one per file keeps every epoch addressable
        # (equal aliases become "forbidden" in WebUI).
        meta["ss_output_name"] = path.stem
        meta.update(modelspec_metadata(cfg, run))
        save_lora(path, network.state_dict(), meta, cfg.save_precision)
        if path not in result.checkpoints:
            result.checkpoints.append(path)
        if cfg.save_state:
            self._save_state(network, optimizer, scheduler, scaler, seed, run, result, step, next_epoch, next_batch)
        if self.on_checkpoint:
            self.on_checkpoint(path, result.epochs_done, step)

    def _save_state(self, network, optimizer, scheduler, scaler, seed, run, result, step, epoch, batch) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "network": {k: v.detach().to("cpu").clone() for k, v in network.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "step": step,
            "epoch": epoch,
            "batch": batch,
            "seed": seed,
            "session_id": run.session_id,
            "training_started_at": run.training_started_at,
            "checkpoints": [str(p) for p in result.checkpoints],
            "losses": list(result.losses),
            "config": {k: getattr(self.config, k) for k in _RESUME_KEYS},
            "network_weights_source": self._weights_source,
        }
        target = self.state_dir / STATE_FILE
        tmp = target.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, target)

    def _load_state(self) -> dict:
        target = self.state_dir / STATE_FILE
        if not target.is_file():
            raise ValueError(messages.NO_CHECKPOINT_TO_RESUME.format(folder=self.state_dir))
        state = torch.load(target, map_location="cpu", weights_only=True)
        saved = state.get("config", {})
        differ = [k for k in _RESUME_KEYS if k != "seed" and k in saved and saved[k] != getattr(self.config, k)]
        if self.config.seed is not None and saved.get("seed") is not None and saved["seed"] != self.config.seed:
            differ.append("seed")
        if differ:
            raise ValueError(messages.RESUME_MISMATCH.format(folder=self.state_dir, what=", ".join(differ)))
        return state

    def _interrupt(self, network, optimizer, scheduler, scaler, seed, run, result, step, epoch, batch) -> None:
        result.interrupted = True
        if self.config.save_state:
            self._save_state(network, optimizer, scheduler, scaler, seed, run, result, step, epoch, batch)
        last = str(result.checkpoints[-1].name) if result.checkpoints else "none"
        result.message = messages.INTERRUPTED.format(step=step, checkpoint=last)

    def _sample(self, network: LoRANetwork, epoch: int, step: int, seed: int) -> None:
        if not self.on_sample:
            return
        root = self.model.root
        modes = [(m, m.training) for m in network.modules()]
        network.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                self.on_sample(SampleRequest(epoch, step, list(self.config.sample_prompts), seed, network))
        finally:
            for m, flag in modes:
                m.training = flag
            root.eval()


def train(model: TrainableModel, config: TrainingConfig, resume: bool = False, **kwargs) -> TrainResult:
    """Convenience: ``Trainer(model, config, **kwargs).run(resume)``."""
    return Trainer(model, config, **kwargs).run(resume)
