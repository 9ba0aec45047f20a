"""The fake Hub's repos: real file bytes (``fake_hub_files``) in JSON built on the recorded shapes
(``tests/data/hf-samples``), so every field name is the Hub's own.

A repo's history is a dict of commits (40-hex sha → {path: blob}); ``main`` points at the newest one.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

from tests.support import fake_hub_files as files

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "hf-samples"
LFS_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".png", ".jpg", ".jpeg", ".webp", ".gif", ".zip")
GITATTRIBUTES = b"".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n".encode() for s in LFS_SUFFIXES)


@cache
def sample(name: str) -> object:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Blob:
    """One file's bytes, stored in LFS (by SHA256, behind the storage redirect) or in git (served directly)."""

    data: bytes
    lfs: bool

    @cached_property  # the storage finds a blob by its sha256 on every request: hash each file once
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @cached_property
    def git_oid(self) -> str:
        """The git blob id: of the LFS pointer for an LFS file, of the content otherwise (as the Hub lists it)."""
        stored = self.pointer if self.lfs else self.data
        return hashlib.sha1(b"blob %d\0" % len(stored) + stored).hexdigest()

    def tree_entry(self, path: str) -> dict:
        entry = {"type": "file", "oid": self.git_oid, "size": len(self.pointer) if self.lfs else len(self.data),
                 "path": path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": len(self.pointer)}
        return entry


def blob(data: bytes, path: str) -> Blob:
    return Blob(data, path.lower().endswith(LFS_SUFFIXES))


def commit_sha(repo_id: str, n: int) -> str:
    return hashlib.sha1(f"{repo_id}@{n}".encode()).hexdigest()


@dataclass
class Repo:
    repo_id: str
    commits: dict[str, dict[str, Blob]]
    branches: dict[str, str]
    card_data: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)
    pipeline_tag: str | None = "text-to-image"
    library_name: str | None = None
    gated: bool | str = False
    private: bool = False
    downloads: int = 0
    likes: int = 0
    last_modified: str = "2024-05-01T12:00:00.000Z"
    created_at: str = "2024-04-01T12:00:00.000Z"

    @property
    def head(self) -> str:
        return self.branches["main"]

    @property
    def author(self) -> str:
        return self.repo_id.split("/", 1)[0]

    def object_id(self) -> str:
        return hashlib.sha1(self.repo_id.encode()).hexdigest()[:24]

    def info(self, sha: str, *, blobs: bool = False) -> dict:
        """``GET /api/models/{repo}`` on the recorded shape (``model-info.json``) with this repo's values."""
        out = copy.deepcopy(sample("model-info.json"))
        assert isinstance(out, dict)
        out.update({"_id": self.object_id(), "id": self.repo_id, "modelId": self.repo_id, "author": self.author,
                    "sha": sha, "lastModified": self.last_modified, "createdAt": self.created_at,
                    "private": self.private, "gated": self.gated, "pipeline_tag": self.pipeline_tag,
                    "tags": list(self.tags), "downloads": self.downloads, "likes": self.likes,
                    "library_name": self.library_name, "cardData": copy.deepcopy(self.card_data),
                    "widgetData": [{"text": w["text"]} for w in self.card_data.get("widget", []) if "text" in w],
                    "spaces": [], "usedStorage": sum(len(b.data) for b in self.commits[sha].values())})
        if not self.library_name:
            out.pop("library_name")
        siblings = []
        for path, b in sorted(self.commits[sha].items()):
            item: dict = {"rfilename": path}
            if blobs:
                item.update({"size": len(b.data), "blobId": b.git_oid})
                if b.lfs:
                    item["lfs"] = {"sha256": b.sha256, "size": len(b.data), "pointerSize": len(b.pointer)}
            siblings.append(item)
        out["siblings"] = siblings
        return out

    def list_item(self, expand: list[str]) -> dict:
        """A ``GET /api/models`` item: the default fields, or ``_id``, ``id`` and the ``expand`` ones."""
        full = self.info(self.head)
        full["trendingScore"] = self.likes // 10
        if not expand:
            keys = sample("models-list_default.json")[0].keys()  # type: ignore[index]
            return {k: full.get(k) for k in keys if k in full}
        return {"_id": full["_id"], "id": full["id"], **{k: full.get(k) for k in expand if k in full}}


def card(front: dict, body: str) -> bytes:
    """A model card: YAML front matter (written as JSON-compatible YAML) and Markdown."""
    lines = ["---"]
    for key, value in front.items():
        lines.append(f"{key}: {json.dumps(value)}")
    return ("\n".join(lines) + "\n---\n\n" + body).encode()


def make_repo(repo_id: str, contents: dict[str, bytes], *, card_data: dict | None = None, body: str = "",
              **attrs: object) -> Repo:
    card_data = dict(card_data or {})
    tree = {".gitattributes": blob(GITATTRIBUTES, ".gitattributes")}
    if card_data or body:
        tree["README.md"] = blob(card(card_data, body or f"# {repo_id}\n"), "README.md")
    tree.update({path: blob(data, path) for path, data in contents.items()})
    sha = commit_sha(repo_id, 1)
    return Repo(repo_id, {sha: tree}, {"main": sha}, card_data=card_data, **attrs)  # type: ignore[arg-type]


LORA_TAGS = ["diffusers", "text-to-image", "stable-diffusion", "lora", "template:sd-lora",
             "base_model:runwayml/stable-diffusion-v1-5", "base_model:adapter:runwayml/stable-diffusion-v1-5",
             "license:creativeml-openrail-m", "region:us"]


def default_repos() -> list[Repo]:
    lora_card = {"license": "creativeml-openrail-m", "base_model": "runwayml/stable-diffusion-v1-5",
                 "tags": ["text-to-image", "stable-diffusion", "lora"], "instance_prompt": "castle style",
                 "widget": [{"text": "castle style, a castle on a hill"}]}
    repos = [
        make_repo("fake-org/castle-lora", {
            "castle_lora.safetensors": files.kohya_lora_sd15(),
            "images/castle_preview.png": files.png(seed=2),
            "images/extra.png": files.png(seed=3)},
            card_data=lora_card, body="# Castle LoRA\n\nA **kohya** LoRA for SD 1.5. Use `castle style`.\n",
            tags=LORA_TAGS, library_name="diffusers", downloads=5400, likes=120,
            last_modified="2024-06-02T10:00:00.000Z"),
        make_repo("fake-org/castle-lora-peft", {
            "pytorch_lora_weights.safetensors": files.peft_lora_sd15(), "image_0.png": files.png(seed=4)},
            card_data={**lora_card, "instance_prompt": "a photo of sks castle"},
            body="# LoRA DreamBooth - fake-org/castle-lora-peft\n\nThese are LoRA adaption weights (diffusers).\n",
            tags=LORA_TAGS, library_name="diffusers", downloads=800, likes=15,
            last_modified="2024-07-15T09:30:00.000Z"),
        make_repo("fake-org/tiny-sd15", {"tiny-sd15.safetensors": files.sd15_checkpoint()},
                  card_data={"license": "creativeml-openrail-m", "tags": ["stable-diffusion", "text-to-image"]},
                  body="# Tiny SD 1.5\n\nA single-file checkpoint in the original layout.\n",
                  tags=["safetensors", "stable-diffusion", "text-to-image", "region:us"],
                  downloads=3000, likes=40, last_modified="2024-03-20T08:00:00.000Z"),
        make_repo("fake-org/tiny-sd-diffusers", {**files.diffusers_files(), "example.png": files.png(seed=5)},
                  card_data={"license": "creativeml-openrail-m", "tags": ["diffusers", "text-to-image"]},
                  body="# Tiny SD (diffusers)\n\nA pipeline folder.\n",
                  tags=["diffusers", "safetensors", "text-to-image", "diffusers:StableDiffusionPipeline"],
                  library_name="diffusers", downloads=2500, likes=60, last_modified="2024-08-01T00:00:00.000Z"),
        make_repo("fake-org/gated-lora", {"gated_lora.safetensors": files.kohya_lora_sd15(),
                                          "sample.png": files.png(seed=6)},
                  card_data={**lora_card, "instance_prompt": "gated style",
                             "extra_gated_prompt": "You agree to share your contact information."},
                  body="# Gated LoRA\n", tags=LORA_TAGS, gated="manual", downloads=300, likes=9,
                  last_modified="2024-05-05T05:00:00.000Z"),
        make_repo("fake-org/private-lora", {"private_lora.safetensors": files.kohya_lora_sd15()},
                  card_data={**lora_card, "instance_prompt": "private style"}, body="# Private LoRA\n",
                  tags=LORA_TAGS, private=True, downloads=0, likes=0),
    ]
    for n in range(24):  # enough repos to page through and sort
        repos.append(make_repo(f"fake-org/filler-lora-{n:02d}", {f"filler_{n:02d}.safetensors": b"\0" * 16},
                               card_data={"tags": ["lora"]}, tags=["lora", "text-to-image"],
                               downloads=100 + 7 * n, likes=50 - 2 * n,
                               last_modified=f"2024-01-{n + 1:02d}T00:00:00.000Z"))
    return repos
