"""A real, small stand-in for WebUI's embedding and hypernetwork trainers, for the test suite only.

It trains on :class:`~tests.support.tiny_diffusion.TinyDiffusionModel` the way WebUI's trainers do, at a
tiny scale, and saves snapshots in WebUI's formats under WebUI's log layout
(``<log>/<date>/<name>/embeddings|hypernetworks/<name>-<step>.pt``):

- an embedding: ``vectors_per_token`` vectors that replace the trigger word's token in the tiny text
  encoder's input, trained on the dataset's captions through the prompt template; saved as
  ``{"string_to_token", "string_to_param": {"*": tensor}, "name", "step", "sd_checkpoint",
  "sd_checkpoint_name"}`` (textual_inversion.Embedding.save);
- a hypernetwork: per context width, two residual MLPs (``layer_structure`` multipliers) applied to the
  cross-attention context before ``to_k`` and ``to_v``, scaled by the strength; saved as the dict of
  hypernetwork.Hypernetwork.save (``{width: (k_state, v_state)}``, ``step``, ``name``, ``layer_structure``…).

Like WebUI, it reads the images of one folder (not its subfolders) with their ``.txt`` captions.
"""

from __future__ import annotations

import contextlib
import datetime
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from model_workbench.host import ProgressUpdate
from model_workbench.training.webui_fields import parse_layer_structure, parse_learn_rate
from model_workbench.training.webui_kinds import (
    EmbeddingFields,
    HypernetworkFields,
    StepSnapshot,
    VersionKind,
    WebuiTrainRequest,
)
from tests.support.tiny_diffusion import BOS, EOS, CrossAttention, TinyDiffusionModel, single_thread

TEMPLATES = {
    "subject_filewords.txt": "a photo of a [name], [filewords]\na rendering of a [name], [filewords]\n"
                             "a close-up photo of the [name], [filewords]\n",
    "style_filewords.txt": "a painting, art by [name], [filewords]\na rendering, art by [name], [filewords]\n",
    "none.txt": "picture\n",
}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_WORD = re.compile(r"[a-z0-9]+")


# --- the text encoder with embeddings --------------------------------------------------------------

def encode_with_embeddings(model: TinyDiffusionModel, texts: list[str], vectors: dict[str, torch.Tensor],
                           clip_skip: int = 1) -> torch.Tensor:
    """The tiny encoder's output where each word of ``vectors`` is replaced by its vectors (WebUI's
    EmbeddingDatabase does the same to the token sequence)."""
    wrapped = model.root.cond_stage_model.wrapped
    text_model = wrapped.transformer.text_model
    tokenizer = wrapped.tokenizer
    table = text_model.embeddings.token_embedding
    rows = []
    for text in texts:
        pieces = [table(torch.tensor([BOS]))[0]]
        for word in _WORD.findall(text.lower()):
            if word in vectors:
                pieces.extend(vectors[word].to(table.weight.dtype))
            else:
                pieces.append(table(tokenizer([word])[0, 1:2])[0])
        pieces = pieces[: tokenizer.tokens - 1]
        eos = table(torch.tensor([EOS]))[0]
        pieces += [eos] * (tokenizer.tokens - len(pieces))
        rows.append(torch.stack(pieces))
    h = torch.stack(rows) + text_model.embeddings.position_embedding(torch.arange(tokenizer.tokens))[None]
    hidden = [h]
    for layer in text_model.encoder.layers:
        h = layer(h)
        hidden.append(h)
    clip_skip = max(1, min(clip_skip, len(hidden) - 1))
    return text_model.final_layer_norm(hidden[-clip_skip])


@contextlib.contextmanager
def embeddings_applied(model: TinyDiffusionModel, vectors: dict[str, torch.Tensor]) -> Iterator[None]:
    """The model's text encoder reads ``vectors`` for their words while inside (none: unchanged)."""
    if not vectors:
        yield
        return
    encoder = model.root.cond_stage_model
    encoder.forward = lambda texts, clip_skip=1: encode_with_embeddings(model, list(texts), vectors, clip_skip)
    try:
        yield
    finally:
        del encoder.forward


def load_embedding(path: Path) -> torch.Tensor:
    data = torch.load(path, map_location="cpu", weights_only=True)
    return data["string_to_param"]["*"].detach().float()


# --- hypernetworks ----------------------------------------------------------------------------------

class HypernetworkModule(nn.Module):
    """WebUI's HypernetworkModule at small scale: x + MLP(x) × strength (its keys: ``linear.N.weight``)."""

    def __init__(self, dim: int, structure: list[float], activation: str = "linear", seed: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        generator = torch.Generator().manual_seed(seed)
        for i in range(len(structure) - 1):
            linear = nn.Linear(int(dim * structure[i]), int(dim * structure[i + 1]))
            with torch.no_grad():
                linear.weight.normal_(0.0, 0.01, generator=generator)
                linear.bias.zero_()
            layers.append(linear)
            if activation != "linear" and i < len(structure) - 2:
                layers.append(nn.ReLU() if activation == "relu" else nn.Tanh())
        self.linear = nn.Sequential(*layers)
        self.multiplier = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear(x) * self.multiplier


def _cross_attentions(model: TinyDiffusionModel) -> list[CrossAttention]:
    return [m for name, m in model.unet.named_modules() if isinstance(m, CrossAttention) and name.endswith("attn2")]


@contextlib.contextmanager
def hypernetworks_applied(model: TinyDiffusionModel, applied: list[tuple[dict[int, tuple[nn.Module, nn.Module]], float]]
                          ) -> Iterator[None]:
    """Each hypernetwork (its modules per context width, its strength) transforms the cross-attention
    context before ``to_k`` / ``to_v`` while inside, in order, as WebUI's apply_hypernetworks does."""
    handles = []

    def hook(which: int) -> Callable[..., tuple[torch.Tensor]]:
        def pre(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
            x = args[0]
            for layers, strength in applied:
                pair = layers.get(x.shape[-1])
                if pair is not None:
                    pair[which].multiplier = strength
                    x = pair[which](x)
            return (x,)
        return pre

    for attention in _cross_attentions(model) if applied else []:
        handles.append(attention.to_k.register_forward_pre_hook(hook(0)))
        handles.append(attention.to_v.register_forward_pre_hook(hook(1)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def load_hypernetwork(path: Path) -> tuple[dict[int, tuple[nn.Module, nn.Module]], dict]:
    data = torch.load(path, map_location="cpu", weights_only=False)
    structure = [float(x) for x in data["layer_structure"]]
    layers = {}
    for size, (k_state, v_state) in ((k, v) for k, v in data.items() if isinstance(k, int)):
        pair = (HypernetworkModule(size, structure, data["activation_func"]),
                HypernetworkModule(size, structure, data["activation_func"]))
        pair[0].load_state_dict(k_state)
        pair[1].load_state_dict(v_state)
        layers[size] = pair
    return layers, data


# --- the trainer -------------------------------------------------------------------------------------

def _dataset(folder: Path, width: int, height: int) -> list[tuple[torch.Tensor, str]]:
    items = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_EXTENSIONS or not path.is_file():
            continue
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB").resize((width, height)), dtype=np.float32) / 127.5 - 1.0
        caption = path.with_suffix(".txt")
        words = caption.read_text(encoding="utf-8").strip() if caption.is_file() else ""
        items.append((torch.from_numpy(array).permute(2, 0, 1), words))
    if not items:
        raise ValueError("The dataset folder holds no images.")  # the test double's own words, never shown
    return items


@contextlib.contextmanager
def _frozen(model: TinyDiffusionModel) -> Iterator[None]:
    flags = [(p, p.requires_grad) for p in model.root.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _rate(schedule: list[tuple[float, int]], step: int) -> float:
    return next((rate for rate, until in schedule if step <= until), schedule[-1][0])


def train(model: TinyDiffusionModel, request: WebuiTrainRequest, template: str, checkpoint_name: str,
          progress: Callable[[ProgressUpdate], None] | None, should_stop: Callable[[], bool]) -> list[StepSnapshot]:
    """Train the request's embedding or hypernetwork for its steps (fewer when stopped), saving snapshots."""
    fields = request.fields
    training = fields.training
    kind = request.kind
    name = fields.name
    folder = Path(request.log_dir) / datetime.date.today().isoformat() / name / (
        "embeddings" if kind is VersionKind.EMBEDDING else "hypernetworks")
    folder.mkdir(parents=True, exist_ok=True)
    data = _dataset(Path(request.data_dir), 64, 64)
    lines = [line for line in template.splitlines() if line.strip()] or ["[name]"]
    schedule = parse_learn_rate(training.learn_rate, training.steps)
    rng = random.Random(0)
    torch.manual_seed(0)
    dim = model.root.cond_stage_model.wrapped.transformer.text_model.final_layer_norm.weight.shape[0]
    if isinstance(fields, EmbeddingFields):
        table = model.root.cond_stage_model.wrapped.transformer.text_model.embeddings.token_embedding
        ids = model.root.cond_stage_model.wrapped.tokenizer([fields.init_text])[0, 1:-1]
        ids = ids[ids != EOS] if (ids != EOS).any() else ids[:1]
        init = table(ids).detach()
        vector = torch.stack([init[i % len(init)] for i in range(fields.vectors_per_token)]).clone().requires_grad_(True)
        params = [vector]
        layers: dict[int, tuple[nn.Module, nn.Module]] = {}
    else:
        structure = parse_layer_structure(fields.layer_structure)
        layers = {dim: (HypernetworkModule(dim, structure, fields.activation, 1),
                        HypernetworkModule(dim, structure, fields.activation, 2))}
        params = [p for pair in layers.values() for module in pair for p in module.parameters()]
    optimizer = torch.optim.AdamW(params, lr=schedule[0][0], weight_decay=0.0)
    acp = model.alphas_cumprod
    saved: list[StepSnapshot] = []

    def save(step: int) -> None:
        path = folder / f"{name}-{step}.pt"
        if isinstance(fields, EmbeddingFields):
            torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": vector.detach().clone()},
                        "name": name, "step": step, "sd_checkpoint": None,
                        "sd_checkpoint_name": checkpoint_name}, path)
        else:
            torch.save(hypernetwork_state(fields, layers, step, checkpoint_name), path)
        saved.append(StepSnapshot(kind, name, step, path))

    done = 0
    with single_thread(), _frozen(model):
        for step in range(1, training.steps + 1):
            if should_stop():
                break
            for group in optimizer.param_groups:
                group["lr"] = _rate(schedule, step)
            pixels, words = data[(step - 1) % len(data)]
            prompt = rng.choice(lines).replace("[name]", name).replace("[filewords]", words)
            latents = model.encode_images(pixels[None])
            noise = torch.randn_like(latents)
            t = torch.randint(0, len(acp), (1,))
            a = acp[t].view(-1, 1, 1, 1)
            noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
            if isinstance(fields, EmbeddingFields):
                context = encode_with_embeddings(model, [prompt], {name.lower(): vector})
                predicted = model.unet(noisy, t, context)
            else:
                context = model.root.cond_stage_model([prompt])
                with hypernetworks_applied(model, [(layers, 1.0)]):
                    predicted = model.unet(noisy, t, context)
            loss = F.mse_loss(predicted, noise)
            optimizer.zero_grad()
            if loss.requires_grad:  # a template line without [name] leaves an embedding nothing to learn
                loss.backward()
                optimizer.step()
            done = step
            if progress is not None:
                progress(ProgressUpdate(step, training.steps, f"Step {step}/{training.steps}, loss {loss.item():.4f}"))
            if training.save_every and step % training.save_every == 0:
                save(step)
        if done > 0 and (not saved or saved[-1].step != done):
            save(done)
    return saved


def hypernetwork_state(fields: HypernetworkFields, layers: dict[int, tuple[nn.Module, nn.Module]], step: int,
                       checkpoint_name: str) -> dict:
    """The dict Hypernetwork.save writes."""
    structure = parse_layer_structure(fields.layer_structure)
    dropout = [float(x) for x in fields.dropout_structure.split(",")] if fields.use_dropout else [0.0] * len(structure)
    state: dict = {size: (pair[0].state_dict(), pair[1].state_dict()) for size, pair in layers.items()}
    state.update({"step": step, "name": fields.name, "layer_structure": structure,
                  "activation_func": fields.activation, "is_layer_norm": fields.add_layer_norm,
                  "weight_initialization": fields.weight_init, "sd_checkpoint": None,
                  "sd_checkpoint_name": checkpoint_name, "activate_output": False, "use_dropout": fields.use_dropout,
                  "dropout_structure": dropout, "last_layer_dropout": dropout[-2] != 0, "optional_info": None})
    return state
