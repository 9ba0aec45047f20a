"""What the Hub package hands to the UI and the download engine, in the core's own terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class HubModel:
    """One repo as a search result card (``GET /api/models`` item or the head of ``/api/models/{repo}``).

    ``gated`` is False, "auto" or "manual" as the Hub says; ``last_modified`` is its ISO timestamp.
    """

    repo_id: str
    author: str = ""
    downloads: int = 0
    likes: int = 0
    last_modified: str = ""
    gated: bool | str = False
    private: bool = False
    tags: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    library_name: str | None = None
    sha: str | None = None  # the head commit, where the listing includes it


@dataclass(frozen=True)
class HubSearchPage:
    """One page of search results; ``next_cursor`` is the Link header's ``rel="next"`` URL, or None."""

    models: tuple[HubModel, ...]
    next_cursor: str | None = None


@dataclass(frozen=True)
class HubFile:
    """One file of a repo at a commit: ``sha256`` is the LFS oid (None for a small non-LFS file)."""

    repo_id: str
    revision: str  # the commit sha the listing was made at (``X-Repo-Commit`` / ``sha``)
    path: str  # inside the repo, "/"-separated
    size: int
    sha256: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class FileKind:
    """What a file is, read from its safetensors header (a range request, not the whole file).

    ``kind`` is a ``model_workbench.host.ModelKind`` value ("checkpoint", "lora", "embedding", "vae",
    "controlnet") or "" where unknown; ``family`` "sd1", "sd2", "sdxl", "flux" … or ""; ``format`` says
    how the keys are written ("kohya", "peft", "diffusers", "ldm" …); ``loadable`` is False where WebUI
    cannot load the file as it is, with ``reason`` the sentence that says why.
    """

    kind: str = ""
    family: str = ""
    format: str = ""
    loadable: bool = True
    reason: str | None = None
    note: str | None = None  # a sentence about how sure the guess is (a name-only guess, an unreadable header)


@dataclass(frozen=True)
class HubRepoDetails:
    """A repo's page: the card (Markdown as the repo has it; the UI renders and sanitises it), the card's
    YAML data (``base_model``, ``license``, ``tags``, ``instance_prompt`` …), its files and its preview."""

    model: HubModel
    revision: str
    card_markdown: str = ""
    card_data: dict[str, Any] = field(default_factory=dict)
    files: tuple[HubFile, ...] = ()
    preview_path: str | None = None  # an image file of the repo shown as its preview, if any

    @property
    def trigger_words(self) -> tuple[str, ...]:
        """The card's ``instance_prompt`` (DreamBooth/LoRA cards) and ``widget`` prompts are not the same
        thing: only ``instance_prompt`` (a string or a list) is a trigger word."""
        value = self.card_data.get("instance_prompt")
        if isinstance(value, str):
            return (value.strip(),) if value.strip() else ()
        if isinstance(value, list):
            return tuple(str(v).strip() for v in value if str(v).strip())
        return ()


def resolve_url(endpoint: str, repo_id: str, revision: str, path: str) -> str:
    """``{endpoint}/{repo}/resolve/{revision}/{path}``: the download URL of a file at a commit."""
    base = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    return f"{base}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path, safe='/')}"


def repo_url(endpoint: str, repo_id: str) -> str:
    """The repo's web page on the endpoint (a mirror's page where a mirror is set)."""
    return f"{(endpoint or DEFAULT_ENDPOINT).rstrip('/')}/{repo_id}"
