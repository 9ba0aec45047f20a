"""The kinds a project version can train besides LoRA: embeddings and hypernetworks, by WebUI's own trainer.

A version's kind is a property of its config (``kind`` in ``config.json``; absent means LoRA, so
versions made before kinds existed stay LoRA). Embeddings (Textual Inversion) and hypernetworks are
never trained by our code: the host runs WebUI's ``train_embedding`` / ``train_hypernetwork`` on the
project's dataset folder and hands back the step snapshots WebUI saved (``<name>-<step>.pt``). What
follows is pure data: the form's fields with WebUI v1.10.1's own names and defaults, the request a
host receives and the snapshots it returns. No torch, no gradio, no ``modules``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class VersionKind(str, enum.Enum):
    """What a project version trains."""

    LORA = "lora"
    EMBEDDING = "embedding"
    HYPERNETWORK = "hypernetwork"


# WebUI's Train tab: "Choose latent sampling method", "Gradient Clipping", the hypernetwork's
# activation functions (hypernetworks.ui.keys) and layer initialisations.
LATENT_SAMPLING_METHODS = ("once", "deterministic", "random")
CLIP_GRAD_MODES = ("disabled", "value", "norm")
# The seven WebUI names itself; WebUI adds every torch.nn activation class by its lower-case name, which
# depends on torch's version, so a WebUI host offers its own list (hypernetworks.ui.keys).
HYPERNETWORK_ACTIVATIONS = ("linear", "relu", "leakyrelu", "elu", "swish", "tanh", "sigmoid")
HYPERNETWORK_INITIALISATIONS = ("Normal", "KaimingUniform", "KaimingNormal", "XavierUniform", "XavierNormal")
HYPERNETWORK_SIZES = ("768", "1024", "320", "640", "1280")  # the cross-attention widths WebUI offers


@dataclass(frozen=True)
class WebuiTrainingFields:
    """The fields WebUI's "Train" sub-tab shares between embeddings and hypernetworks (v1.10.1 defaults,
    except ``steps``: WebUI's 100000 is a "run until I interrupt" value, a workbench run has an end)."""

    learn_rate: str = "0.005"  # a number or a schedule such as "0.005:100, 1e-3:1000, 1e-5"
    batch_size: int = 1
    gradient_step: int = 1  # gradient accumulation steps
    width: int = 512
    height: int = 512
    varsize: bool = False  # "Do not resize images"
    steps: int = 1000
    clip_grad_mode: str = "disabled"
    clip_grad_value: str = "0.1"
    shuffle_tags: bool = False
    tag_drop_out: float = 0.0
    latent_sampling_method: str = "once"
    use_weight: bool = False  # "Use PNG alpha channel as loss weight"
    save_every: int = 500  # "Save a copy … to log directory every N steps" (0: only the last)
    create_image_every: int = 0  # WebUI's own preview images in its log folder (0: none; we make grids)
    template_file: str = "subject_filewords.txt"  # a file name from WebUI's textual_inversion_templates


@dataclass(frozen=True)
class EmbeddingFields:
    """WebUI's "Create embedding": the name is the trigger word written in prompts."""

    name: str
    init_text: str = "*"
    vectors_per_token: int = 1
    training: WebuiTrainingFields = field(default_factory=WebuiTrainingFields)


@dataclass(frozen=True)
class HypernetworkFields:
    """WebUI's "Create hypernetwork"; used in prompts as ``<hypernet:name:strength>``."""

    name: str
    sizes: tuple[str, ...] = ("768", "320", "640", "1280")
    layer_structure: str = "1, 2, 1"
    activation: str = "linear"
    weight_init: str = "Normal"
    add_layer_norm: bool = False
    use_dropout: bool = False
    dropout_structure: str = "0, 0, 0"
    training: WebuiTrainingFields = field(default_factory=lambda: WebuiTrainingFields(learn_rate="0.00001"))


@dataclass(frozen=True)
class WebuiTrainRequest:
    """One run of WebUI's trainer for a version: what to create and train, on which folder.

    ``data_dir`` is the version's dataset folder (images with ``.txt`` captions); ``log_dir`` is where
    WebUI writes its run (it adds ``<date>/<name>/embeddings|hypernetworks/<name>-<step>.pt``).
    """

    kind: VersionKind
    fields: EmbeddingFields | HypernetworkFields
    data_dir: Path
    log_dir: Path


@dataclass(frozen=True)
class StepSnapshot:
    """One file WebUI's trainer saved: the network ``name`` after ``step`` steps, at ``path``."""

    kind: VersionKind
    name: str
    step: int
    path: Path


@dataclass(frozen=True)
class WebuiTrainerSupport:
    """Whether a host can train each kind with WebUI's trainer, and preview its files.

    ``train_reason`` / ``preview_reason`` are None where the host can, else the sentence that says why
    not (Forge removed the trainers; the standalone app has no WebUI).
    """

    kind: VersionKind
    train_reason: str | None = None
    preview_reason: str | None = None

    @property
    def can_train(self) -> bool:
        return self.train_reason is None

    @property
    def can_preview(self) -> bool:
        return self.preview_reason is None
