"""One training configuration, with kohya sd-scripts' argument names.

Saved as JSON next to a version; exported as the two TOML files sd-scripts reads
(``--config_file`` and ``--dataset_config``) plus the ``accelerate launch`` command that trains
the same LoRA on a multi-GPU machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_workbench.api_body import Field
from model_workbench.jsonfile import write_json_atomic

from . import messages
from .optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS, bitsandbytes_available, canonical_optimizer
from .schedulers import SCHEDULERS

# A field's annotation → the kind of JSON value it takes (``api_body.KINDS``).
_ANNOTATION_KINDS = {"str": "text", "int": "int", "float": "number", "bool": "bool", "list[str]": "texts"}
# The resolution is text ("512" or "768,512"), but a bare 512 means the same.
_KIND_OVERRIDES = {"resolution": "text_or_int"}


@dataclass
class TrainingConfig:
    # model / output
    pretrained_model_name_or_path: str = ""  # the base model's file (kohya's argument; set with base_model)
    # The WebUI checkpoint this version trains on, as WebUI knows it (training/base_checkpoint.py).
    base_model: str = ""  # its name in WebUI's checkpoint list (path inside the checkpoint folder)
    base_model_hash: str = ""  # WebUI's short hash (first 10 hex digits of the sha256)
    base_model_sha256: str = ""
    train_data_dir: str = ""
    output_dir: str = ""
    output_name: str = "lora"
    training_comment: str = ""
    # network
    network_dim: int = 32
    network_alpha: float = 16.0
    network_dropout: float | None = None
    rank_dropout: float | None = None  # kohya: network_args "rank_dropout=…"
    module_dropout: float | None = None  # kohya: network_args "module_dropout=…"
    # kohya network_args "conv_dim=…", "conv_alpha=…": LoRA for the UNet's 3×3 convs (LoCon); 0/None = off
    conv_dim: int | None = None
    conv_alpha: float | None = None  # None: 1, as kohya
    # kohya --network_weights: a LoRA file whose weights the new network starts from ("" = a fresh start)
    network_weights: str = ""
    # optimiser: kohya's optimizer_type (training/optimizers.py), any case in, kohya's spelling stored
    optimizer_type: str = DEFAULT_OPTIMIZER
    learning_rate: float = 1e-4
    unet_lr: float | None = None  # None: learning_rate; 0: UNet frozen (no LoRA modules)
    text_encoder_lr: float | None = None  # None: learning_rate; 0: text encoder frozen
    max_grad_norm: float = 1.0
    lr_scheduler: str = "constant"
    lr_warmup_steps: float = 0  # an int, or a ratio of the total steps when < 1
    lr_scheduler_num_cycles: int = 1
    lr_scheduler_power: float = 1.0
    # length
    train_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    max_train_epochs: int | None = 10
    max_train_steps: int = 1600  # used only when max_train_epochs is None
    # precision / memory
    mixed_precision: str = "no"  # no | fp16 | bf16
    save_precision: str = "fp16"  # fp16 | bf16 | float
    gradient_checkpointing: bool = False
    cache_latents: bool = True
    # loss
    noise_offset: float | None = None
    min_snr_gamma: float | None = None
    v_parameterization: bool = False
    seed: int | None = None
    # saving / sampling
    save_every_n_epochs: int | None = 1
    save_every_n_steps: int | None = None
    save_state: bool = True
    sample_every_n_epochs: int | None = None
    sample_every_n_steps: int | None = None
    sample_prompts: list[str] = field(default_factory=list)
    # dataset
    resolution: str = "512"  # "512" or "W,H"
    enable_bucket: bool = False
    min_bucket_reso: int = 256
    max_bucket_reso: int = 1024
    bucket_reso_steps: int = 64
    bucket_no_upscale: bool = False
    resize_mode: str = "crop"  # crop | pad (pad is ours; sd-scripts always crops)
    random_crop: bool = False
    flip_aug: bool = False
    caption_extension: str = ".txt"
    shuffle_caption: bool = False
    keep_tokens: int = 0
    caption_dropout_rate: float = 0.0
    caption_dropout_every_n_epochs: int = 0
    caption_tag_dropout_rate: float = 0.0
    clip_skip: int | None = None

    def __post_init__(self) -> None:
        self.optimizer_type = canonical_optimizer(self.optimizer_type)

    # -- derived values ----------------------------------------------------------------------
    def resolution_wh(self) -> tuple[int, int]:
        parts = [p.strip() for p in str(self.resolution).split(",") if p.strip()]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(messages.BAD_RESOLUTION.format(value=self.resolution)) from None
        if len(values) == 1:
            return values[0], values[0]
        if len(values) == 2:
            return values[0], values[1]
        raise ValueError(messages.BAD_RESOLUTION.format(value=self.resolution))

    def effective_unet_lr(self) -> float:
        return self.learning_rate if self.unet_lr is None else self.unet_lr

    def effective_text_encoder_lr(self) -> float:
        return self.learning_rate if self.text_encoder_lr is None else self.text_encoder_lr

    def network_args(self) -> dict[str, str]:
        args = {}
        if self.rank_dropout:
            args["rank_dropout"] = str(self.rank_dropout)
        if self.module_dropout:
            args["module_dropout"] = str(self.module_dropout)
        if self.conv_dim:
            args["conv_dim"] = str(int(self.conv_dim))
            args["conv_alpha"] = f"{self.effective_conv_alpha():g}"
        return args

    def effective_conv_alpha(self) -> float:
        """kohya's conv_alpha: 1 when conv_dim is set without one."""
        return 1.0 if self.conv_alpha is None else float(self.conv_alpha)

    # -- validation ----------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError listing every problem, each as a sentence the user can act on."""
        problems: list[str] = []

        def need(ok: bool, text: str) -> None:
            if not ok:
                problems.append(text)

        need(self.network_dim >= 1, "The network dimension (rank) must be at least 1.")
        need(self.network_alpha >= 0, "The network alpha must not be negative.")
        need(self.conv_dim is None or self.conv_dim >= 0, messages.CONV_DIM_NEGATIVE)
        need(self.conv_alpha is None or self.conv_alpha >= 0, messages.CONV_ALPHA_NEGATIVE)
        for name in ("network_dropout", "rank_dropout", "module_dropout"):
            value = getattr(self, name)
            need(value is None or 0 <= value < 1, f"{name} must be between 0 and 1 (1 excluded).")
        need(self.optimizer_type in OPTIMIZERS, messages.OPTIMIZER_UNKNOWN.format(
            name=self.optimizer_type, choices=", ".join(OPTIMIZERS)))
        need(self.optimizer_type != "AdamW8bit" or bitsandbytes_available(), messages.OPTIMIZER_NEEDS_BITSANDBYTES)
        need(self.learning_rate >= 0, "The learning rate must not be negative.")
        need(self.unet_lr is None or self.unet_lr >= 0, "The UNet learning rate must not be negative.")
        need(
            self.text_encoder_lr is None or self.text_encoder_lr >= 0,
            "The text encoder learning rate must not be negative.",
        )
        need(
            self.effective_unet_lr() > 0 or self.effective_text_encoder_lr() > 0,
            "Both learning rates are 0, so nothing would be trained; give the UNet or the text encoder a learning rate.",
        )
        need(self.lr_scheduler in SCHEDULERS, f"The scheduler must be one of: {', '.join(SCHEDULERS)}.")
        need(self.lr_warmup_steps >= 0, "Warmup steps must not be negative.")
        need(
            not (self.lr_scheduler == "constant" and self.lr_warmup_steps > 0),
            "The constant scheduler has no warmup; choose constant_with_warmup or set warmup steps to 0.",
        )
        need(self.lr_scheduler_num_cycles >= 1, "The number of scheduler cycles must be at least 1.")
        need(self.lr_scheduler_power > 0, "The polynomial scheduler power must be positive.")
        need(self.train_batch_size >= 1, "The batch size must be at least 1.")
        need(self.gradient_accumulation_steps >= 1, "Gradient accumulation steps must be at least 1.")
        need(self.max_train_epochs is None or self.max_train_epochs >= 1, "The number of epochs must be at least 1.")
        need(self.max_train_steps >= 1, "The number of steps must be at least 1.")
        need(self.mixed_precision in ("no", "fp16", "bf16"), "Mixed precision must be no, fp16 or bf16.")
        need(self.save_precision in ("fp16", "bf16", "float"), "Save precision must be fp16, bf16 or float.")
        need(self.max_grad_norm >= 0, "The gradient clipping norm must not be negative (0 turns it off).")
        need(self.noise_offset is None or self.noise_offset >= 0, "The noise offset must not be negative.")
        need(self.min_snr_gamma is None or self.min_snr_gamma > 0, "Min-SNR gamma must be positive.")
        for name in ("save_every_n_epochs", "save_every_n_steps", "sample_every_n_epochs", "sample_every_n_steps"):
            value = getattr(self, name)
            need(value is None or value >= 1, f"{name} must be at least 1 (or empty to turn it off).")
        try:
            w, h = self.resolution_wh()
            need(w >= 64 and h >= 64 and w % 64 == 0 and h % 64 == 0, "The resolution must be a multiple of 64.")
        except ValueError as exc:
            problems.append(str(exc))
        step = self.bucket_reso_steps
        need(step >= 8 and step % 8 == 0, "The bucket resolution step must be a multiple of 8.")
        if self.enable_bucket and step >= 8:
            need(self.min_bucket_reso % step == 0, "The minimum bucket resolution must be a multiple of the bucket step.")
            need(self.max_bucket_reso % step == 0, "The maximum bucket resolution must be a multiple of the bucket step.")
            need(self.min_bucket_reso <= self.max_bucket_reso, "The minimum bucket resolution exceeds the maximum.")
            try:
                w, h = self.resolution_wh()
                need(self.max_bucket_reso >= max(w, h), "The maximum bucket resolution must be at least the resolution.")
            except ValueError:
                pass
        need(self.resize_mode in ("crop", "pad"), "The resize mode must be crop or pad.")
        need(
            not (self.random_crop and self.cache_latents),
            "Random crop cannot be combined with cached latents (each latent is encoded once); turn one off.",
        )
        need(self.keep_tokens >= 0, "keep_tokens must not be negative.")
        for name in ("caption_dropout_rate", "caption_tag_dropout_rate"):
            need(0 <= getattr(self, name) < 1, f"{name} must be between 0 and 1 (1 excluded).")
        need(self.caption_dropout_every_n_epochs >= 0, "caption_dropout_every_n_epochs must not be negative.")
        need(self.clip_skip is None or self.clip_skip >= 1, "Clip skip must be at least 1.")
        need(bool(self.output_name.strip()), "The output name must not be empty.")
        need(
            not any(c in self.output_name for c in '/\\:*?"<>|'),
            "The output name must not contain / \\ : * ? \" < > |.",
        )
        if problems:
            raise ValueError(" ".join(problems))

    @classmethod
    def field_schema(cls) -> dict[str, Field]:
        """Each field's JSON kind, read from its annotation (``float | None`` takes null), for
        ``api_body.check_field``: a wrong type is refused with the field's name before validation."""
        schema = {}
        for f in dataclasses.fields(cls):
            annotation = str(f.type).replace(" ", "")
            nullable = annotation.endswith("|None")
            kind = _KIND_OVERRIDES.get(f.name) or _ANNOTATION_KINDS[annotation.removesuffix("|None")]
            schema[f.name] = Field(kind, nullable=nullable)
        return schema

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Build from a dict; unknown keys are ignored so older/newer files still load."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def save_json(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> TrainingConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# ------------------------------------------------------------------------------------------------
# kohya sd-scripts export
# ------------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _toml_table(values: dict[str, Any]) -> list[str]:
    return [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]


def kohya_training_toml(config: TrainingConfig, family: str = "sd1") -> str:
    """The ``--config_file`` TOML: every training argument, in sd-scripts' names and types."""
    args: dict[str, Any] = {}
    args["pretrained_model_name_or_path"] = config.pretrained_model_name_or_path
    if family == "sd2":
        args["v2"] = True
    args["v_parameterization"] = config.v_parameterization or None
    args["output_dir"] = config.output_dir
    args["output_name"] = config.output_name
    args["save_model_as"] = "safetensors"
    args["save_precision"] = config.save_precision
    args["network_module"] = "networks.lora"
    args["network_dim"] = config.network_dim
    args["network_alpha"] = float(config.network_alpha)
    args["network_dropout"] = config.network_dropout
    args["network_weights"] = config.network_weights or None
    net_args = [f"{k}={v}" for k, v in config.network_args().items()]
    args["network_args"] = net_args or None
    unet_lr, te_lr = config.effective_unet_lr(), config.effective_text_encoder_lr()
    if te_lr == 0:
        args["network_train_unet_only"] = True
    if unet_lr == 0:
        args["network_train_text_encoder_only"] = True
    args["optimizer_type"] = config.optimizer_type
    args["learning_rate"] = config.learning_rate
    args["unet_lr"] = config.unet_lr if config.unet_lr else None
    args["text_encoder_lr"] = config.text_encoder_lr if config.text_encoder_lr else None
    args["max_grad_norm"] = config.max_grad_norm
    args["gradient_accumulation_steps"] = config.gradient_accumulation_steps
    args["lr_scheduler"] = config.lr_scheduler
    warm = config.lr_warmup_steps
    args["lr_warmup_steps"] = (int(warm) if float(warm).is_integer() else float(warm)) if warm else None
    args["lr_scheduler_num_cycles"] = config.lr_scheduler_num_cycles
    args["lr_scheduler_power"] = config.lr_scheduler_power
    if config.max_train_epochs is not None:
        args["max_train_epochs"] = config.max_train_epochs
    else:
        args["max_train_steps"] = config.max_train_steps
    args["mixed_precision"] = config.mixed_precision
    args["gradient_checkpointing"] = config.gradient_checkpointing or None
    args["cache_latents"] = config.cache_latents or None
    args["sdpa"] = True
    args["noise_offset"] = config.noise_offset
    args["min_snr_gamma"] = config.min_snr_gamma
    args["seed"] = config.seed
    args["clip_skip"] = config.clip_skip
    args["save_every_n_epochs"] = config.save_every_n_epochs
    args["save_every_n_steps"] = config.save_every_n_steps
    args["save_state"] = config.save_state or None
    if config.sample_prompts:
        args["sample_prompts"] = "sample_prompts.txt"
        args["sample_every_n_epochs"] = config.sample_every_n_epochs
        args["sample_every_n_steps"] = config.sample_every_n_steps
        args["sample_sampler"] = "ddim"
    args["training_comment"] = config.training_comment or None
    args["max_data_loader_n_workers"] = 2
    args["persistent_data_loader_workers"] = True
    return "\n".join(_toml_table(args)) + "\n"


def kohya_dataset_toml(config: TrainingConfig, subsets: list[tuple[str, int, str]] | None = None) -> str:
    """The ``--dataset_config`` TOML. ``subsets`` is [(image_dir, repeats, class_tokens)]; by
    default every ``<repeats>_<concept>`` folder under ``train_data_dir``."""
    if subsets is None:
        subsets = _subsets_from_dir(config.train_data_dir)
    w, h = config.resolution_wh()
    general = {
        "caption_extension": config.caption_extension,
        "shuffle_caption": config.shuffle_caption,
        "keep_tokens": config.keep_tokens,
        "flip_aug": config.flip_aug,
        "random_crop": config.random_crop,
        "caption_dropout_rate": config.caption_dropout_rate,
        "caption_dropout_every_n_epochs": config.caption_dropout_every_n_epochs,
        "caption_tag_dropout_rate": config.caption_tag_dropout_rate,
    }
    dataset = {
        "resolution": w if w == h else [w, h],
        "batch_size": config.train_batch_size,
        "enable_bucket": config.enable_bucket,
    }
    if config.enable_bucket:
        dataset.update(
            min_bucket_reso=config.min_bucket_reso,
            max_bucket_reso=config.max_bucket_reso,
            bucket_reso_steps=config.bucket_reso_steps,
            bucket_no_upscale=config.bucket_no_upscale,
        )
    lines = ["[general]", *_toml_table(general), "", "[[datasets]]", *_toml_table(dataset)]
    for image_dir, repeats, class_tokens in subsets:
        lines += ["", "  [[datasets.subsets]]"]
        lines += ["  " + line for line in _toml_table(
            {"image_dir": image_dir, "num_repeats": repeats, "class_tokens": class_tokens}
        )]
    return "\n".join(lines) + "\n"


def _subsets_from_dir(train_data_dir: str) -> list[tuple[str, int, str]]:
    from .dataset import parse_concept_folder

    out = []
    root = Path(train_data_dir)
    if root.is_dir():
        for child in sorted(root.iterdir()):
            parsed = parse_concept_folder(child.name) if child.is_dir() else None
            if parsed:
                out.append((str(child), parsed[0], parsed[1]))
    return out


def kohya_command(family: str = "sd1", num_processes: int = 1, config_path: str = "config.toml",
                  dataset_path: str = "dataset.toml") -> str:
    """``accelerate launch`` for sd-scripts' train_network.py (sdxl_train_network.py for SDXL)."""
    script = "sdxl_train_network.py" if family == "sdxl" else "train_network.py"
    parts = ["accelerate", "launch", "--num_cpu_threads_per_process", "1"]
    if num_processes > 1:
        parts += ["--multi_gpu", "--num_processes", str(num_processes)]
    parts += [script, "--config_file", config_path, "--dataset_config", dataset_path]
    return " ".join(shlex.quote(p) for p in parts)


def export_kohya(config: TrainingConfig, folder: str | os.PathLike, family: str = "sd1",
                 num_processes: int = 1) -> dict[str, str]:
    """Write config.toml, dataset.toml (and sample_prompts.txt) into ``folder``; return paths and the command."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path, ds_path = folder / "config.toml", folder / "dataset.toml"
    cfg_text = kohya_training_toml(config, family)
    if config.sample_prompts:
        prompts = folder / "sample_prompts.txt"
        prompts.write_text("\n".join(config.sample_prompts) + "\n", encoding="utf-8")
        cfg_text = cfg_text.replace('sample_prompts = "sample_prompts.txt"', f"sample_prompts = {_toml_value(str(prompts))}")
    cfg_path.write_text(cfg_text, encoding="utf-8")
    ds_path.write_text(kohya_dataset_toml(config), encoding="utf-8")
    command = kohya_command(family, num_processes, str(cfg_path), str(ds_path))
    return {"config": str(cfg_path), "dataset": str(ds_path), "command": command}
