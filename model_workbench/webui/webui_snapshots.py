"""Embedding and hypernetwork step files made usable in one generation under temporary names.

A preview cell asks for a step file with ``ExtraNetwork(kind="hypernet"|"embedding", path=…)``. The
file stays where it is (the version's run folder):

- a hypernetwork is listed in ``shared.hypernetworks`` under a unique name ``mwhn…`` and written into
  the prompt as ``<hypernet:mwhn…:S>``; WebUI's hypernet extra network loads it by that name with its
  own loader (``load_hypernetworks``). Strength 0 is left out: the generation is plain txt2img.
- an embedding is read with WebUI's ``create_embedding_from_data`` and registered in the embedding
  database under a unique word ``mwemb…``, which replaces the trigger word in the prompts.

Unique names per generation also keep WebUI's prompt-conditioning cache from serving another step's
result. Afterwards exactly these entries are removed, the hypernetworks WebUI had loaded are put back
and the layers a hypernetwork hung on the attention modules are taken off (``webui_network_state``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from model_workbench.host import ExtraNetwork, GenerationRequest
from model_workbench.webui import messages
from model_workbench.webui.webui_network_state import hypernet_layers_aside, loaded_hypernetworks_kept

EMBEDDING_PREFIX = "mwemb"
HYPERNET_PREFIX = "mwhn"


def temporary_name(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


def replace_word(text: str, word: str, replacement: str) -> str:
    """``word`` as a whole word (not inside a longer one) replaced in ``text``."""
    return re.sub(rf"(?<![\w]){re.escape(word)}(?![\w])", replacement, text)


def _load_embedding_data(path: Path) -> Any:
    if path.suffix.lower() == ".safetensors":
        import safetensors.torch

        return safetensors.torch.load_file(str(path), device="cpu")
    import torch

    return torch.load(str(path), map_location="cpu")


@dataclass
class SnapshotRegistrations:
    """What one generation registered: embedding words and hypernetwork names to remove again."""

    embeddings: list[str] = field(default_factory=list)
    hypernets: dict[str, str] = field(default_factory=dict)

    @property
    def any_embedding(self) -> bool:
        return bool(self.embeddings)


def _register_embedding(extra: ExtraNetwork, shared: Any, ti: Any, db: Any, done: SnapshotRegistrations) -> str:
    path = Path(extra.path)  # type: ignore[arg-type]
    if not path.is_file():
        raise FileNotFoundError(messages.NETWORK_FILE_MISSING.format(path=path))
    word = temporary_name(EMBEDDING_PREFIX)
    # No file path: WebUI would hash the file into its cache under the temporary name.
    embedding = ti.create_embedding_from_data(_load_embedding_data(path), word, filename=path.name)
    expected = getattr(db, "expected_shape", -1)
    if expected not in (-1, None) and embedding.shape != expected:
        raise ValueError(messages.EMBEDDING_SHAPE.format(name=extra.name, found=embedding.shape, expected=expected))
    db.register_embedding_by_name(embedding, shared.sd_model, word)
    done.embeddings.append(word)
    return word


def _forget(shared: Any, db: Any, done: SnapshotRegistrations) -> None:
    for word in done.embeddings:
        if word in db.word_embeddings:
            db.register_embedding_by_name(None, shared.sd_model, word)
    listed = getattr(shared, "hypernetworks", {})
    for name, path in done.hypernets.items():
        if listed.get(name) == path:
            del listed[name]


@contextmanager
def snapshots_registered(request: GenerationRequest, shared: Any, textual_inversion: Any | None,
                         embedding_db: Any | None) -> Iterator[tuple[GenerationRequest, SnapshotRegistrations]]:
    """The request rewritten to the temporary names (hypernets as ``<hypernet:…>`` networks without a
    path, embeddings as words in the prompts), with the files registered until the block ends."""
    done = SnapshotRegistrations()
    prompt, negative = request.prompt, request.negative_prompt
    kept: list[ExtraNetwork] = []
    with ExitStack() as stack:
        try:
            for extra in request.extra_networks:
                if extra.kind == "embedding" and extra.path is not None:
                    if textual_inversion is None or embedding_db is None:
                        raise ValueError(messages.EMBEDDING_PREVIEW_UNSUPPORTED.format(name="WebUI"))
                    if not done.any_embedding:
                        embedding_db.load_textual_inversion_embeddings()  # the user's changes, before ours
                    word = _register_embedding(extra, shared, textual_inversion, embedding_db, done)
                    prompt, negative = replace_word(prompt, extra.name, word), replace_word(negative, extra.name, word)
                elif extra.kind == "embedding":
                    continue  # a listed embedding: its word is in the prompt already
                elif extra.kind == "hypernet" and extra.weight == 0:
                    continue  # strength 0: the model without it
                elif extra.kind == "hypernet" and extra.path is not None:
                    if not done.hypernets:
                        stack.enter_context(loaded_hypernetworks_kept(shared))
                        stack.enter_context(hypernet_layers_aside(getattr(shared, "sd_model", None)))
                    name = temporary_name(HYPERNET_PREFIX)
                    shared.hypernetworks[name] = str(extra.path)
                    done.hypernets[name] = str(extra.path)
                    kept.append(replace(extra, name=name, path=None))
                else:
                    kept.append(extra)
            yield replace(request, prompt=prompt, negative_prompt=negative, extra_networks=tuple(kept)), done
        finally:
            if embedding_db is not None or done.hypernets:
                _forget(shared, embedding_db, done)
