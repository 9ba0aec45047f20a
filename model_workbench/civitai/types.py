"""Typed views of Civitai's JSON, built by tolerant ``from_json`` constructors.

Every variant seen since 2023 parses (see ``coerce``); unknown fields are ignored but the original
object is kept in ``raw`` (the sidecar writer stores it as Civitai Helper's ``.civitai.info``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from model_workbench.bidi import strip_bidi

from . import coerce as c

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".gif")


@dataclass
class ModelFile:
    id: int | None
    name: str
    type: str = "Model"
    size_kb: float | None = None
    format: str | None = None
    size_variant: str | None = None  # metadata.size: "full" | "pruned" | None
    fp: str | None = None
    primary: bool = False
    hashes: dict[str, str] = field(default_factory=dict)
    download_url: str | None = None
    pickle_scan: str | None = None
    virus_scan: str | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("SHA256")

    @property
    def approx_size_bytes(self) -> int | None:
        """``sizeKB`` is a float KiB count: good for display and sanity checks, not an exact length."""
        return int(round(self.size_kb * 1024)) if self.size_kb else None

    @classmethod
    def from_json(cls, data: Any) -> ModelFile:
        d = c.as_dict(data)
        meta = c.as_dict(d.get("metadata"))
        hashes = {str(k): v.upper() for k, v in c.as_dict(d.get("hashes")).items() if isinstance(v, str) and v}
        return cls(
            id=c.as_int(d.get("id")),
            name=c.as_str(d.get("name")),
            type=c.as_str(d.get("type"), "Model") or "Model",
            size_kb=c.as_float(d.get("sizeKB")),
            format=c.as_opt_str(meta.get("format")),
            size_variant=c.as_opt_str(meta.get("size")),
            fp=c.as_opt_str(meta.get("fp")),
            primary=c.as_bool(d.get("primary")),  # absent (not false) on non-primary files in lists
            hashes=hashes,
            download_url=c.as_opt_str(d.get("downloadUrl")),
            pickle_scan=c.as_opt_str(d.get("pickleScanResult")),
            virus_scan=c.as_opt_str(d.get("virusScanResult")),
            raw=d,
        )


@dataclass
class ModelImage:
    url: str
    id: int | None = None
    type: str = "image"  # "image" | "video" (| "audio")
    nsfw_level: int = c.NSFW_PG
    width: int | None = None
    height: int | None = None
    blurhash: str | None = None
    meta: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def is_video(self) -> bool:
        # The 2024 sample has a video whose URL ends in .jpeg, so the type field wins over the extension.
        if self.type and self.type != "image":
            return True
        path = self.url.split("?", 1)[0].lower()
        return path.endswith(VIDEO_EXTENSIONS)

    def sized_url(self, width: int | None = None) -> str:
        """The URL with its ``/width=NNN/`` segment replaced (``None`` → ``original=true``)."""
        new = f"/width={width}/" if width else "/original=true/"
        return re.sub(r"/(?:width=\d+|original=true)/", new, self.url, count=1)

    @classmethod
    def from_json(cls, data: Any) -> ModelImage:
        d = c.as_dict(data)
        meta = d.get("meta")
        return cls(
            url=c.as_str(d.get("url")),
            id=c.as_int(d.get("id")),
            type=c.as_str(d.get("type"), "image") or "image",
            nsfw_level=c.nsfw_level(d.get("nsfwLevel"), d.get("nsfw")),
            width=c.as_int(d.get("width")),
            height=c.as_int(d.get("height")),
            blurhash=c.as_opt_str(d.get("hash")),
            meta=meta if isinstance(meta, dict) else None,
            raw=d,
        )


@dataclass
class ModelRef:
    """The small ``model`` object inside a version response (by id / by hash)."""

    name: str
    type: str
    nsfw: bool = False
    poi: bool = False
    mode: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> ModelRef | None:
        d = c.as_dict(data)
        if not d:
            return None
        return cls(c.as_str(d.get("name")), c.as_str(d.get("type")), c.as_bool(d.get("nsfw")),
                   c.as_bool(d.get("poi")), c.as_opt_str(d.get("mode")))


@dataclass
class ModelVersion:
    id: int
    name: str
    model_id: int | None = None
    base_model: str | None = None
    base_model_type: str | None = None
    description: str | None = None
    trained_words: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    status: str | None = None
    availability: str | None = None
    nsfw_level: int = c.NSFW_PG
    early_access_ends_at: datetime | None = None
    download_url: str | None = None
    download_count: int | None = None
    thumbs_up: int | None = None
    air: str | None = None
    usage_control: str | None = None
    model: ModelRef | None = None
    files: list[ModelFile] = field(default_factory=list)
    images: list[ModelImage] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def primary_file(self) -> ModelFile | None:
        for f in self.files:
            if f.primary:
                return f
        # No file marked primary (old or odd responses): prefer a model-weight file.
        for f in self.files:
            if f.type in ("Model", "Pruned Model"):
                return f
        return self.files[0] if self.files else None

    def file_by_id(self, file_id: int) -> ModelFile | None:
        return next((f for f in self.files if f.id == file_id), None)

    @classmethod
    def from_json(cls, data: Any, model_id: int | None = None) -> ModelVersion:
        d = c.as_dict(data)
        stats = c.as_dict(d.get("stats"))
        early = c.parse_datetime(d.get("earlyAccessEndsAt")) or c.parse_datetime(d.get("earlyAccessDeadline"))
        return cls(
            id=c.as_int(d.get("id"), 0) or 0,
            name=c.as_str(d.get("name")),
            model_id=c.as_int(d.get("modelId"), model_id),
            base_model=c.as_opt_str(d.get("baseModel")),
            base_model_type=c.as_opt_str(d.get("baseModelType")),
            description=c.as_opt_str(d.get("description")),
            trained_words=[w for w in (strip_bidi(s).strip() for s in c.as_str_list(d.get("trainedWords"))) if w],
            created_at=c.parse_datetime(d.get("createdAt")),
            updated_at=c.parse_datetime(d.get("updatedAt")),
            published_at=c.parse_datetime(d.get("publishedAt")),
            status=c.as_opt_str(d.get("status")),
            availability=c.as_opt_str(d.get("availability")),
            nsfw_level=c.nsfw_level(d.get("nsfwLevel")),
            early_access_ends_at=early,
            download_url=c.as_opt_str(d.get("downloadUrl")),
            download_count=c.as_int(stats.get("downloadCount")),
            thumbs_up=c.as_int(stats.get("thumbsUpCount")),
            air=c.as_opt_str(d.get("air")),
            usage_control=c.as_opt_str(d.get("usageControl")),
            model=ModelRef.from_json(d.get("model")),
            files=[ModelFile.from_json(f) for f in c.as_list(d.get("files")) if isinstance(f, dict)],
            images=[ModelImage.from_json(i) for i in c.as_list(d.get("images")) if isinstance(i, dict)],
            raw=d,
        )


@dataclass
class Creator:
    username: str
    image: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Creator | None:
        d = c.as_dict(data)
        return cls(c.as_str(d.get("username")), c.as_opt_str(d.get("image"))) if d.get("username") else None


@dataclass
class Model:
    id: int
    name: str
    type: str
    description: str | None = None
    nsfw: bool = False
    nsfw_level: int = c.NSFW_PG
    poi: bool = False
    minor: bool = False
    availability: str | None = None
    mode: str | None = None  # "Archived" | "TakenDown" | None when healthy
    allow_no_credit: bool = True
    allow_commercial_use: list[str] = field(default_factory=list)
    allow_derivatives: bool = True
    allow_different_license: bool = True
    download_count: int | None = None
    thumbs_up: int | None = None
    creator: Creator | None = None
    tags: list[str] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def is_archived(self) -> bool:
        return (self.mode or "").lower() == "archived"

    @property
    def is_taken_down(self) -> bool:
        return (self.mode or "").lower() == "takendown"

    @classmethod
    def from_json(cls, data: Any) -> Model:
        d = c.as_dict(data)
        stats = c.as_dict(d.get("stats"))
        model_id = c.as_int(d.get("id"), 0) or 0
        return cls(
            id=model_id,
            name=c.as_str(d.get("name")),
            type=c.as_str(d.get("type"), "Other") or "Other",
            description=c.as_opt_str(d.get("description")),
            nsfw=c.as_bool(d.get("nsfw")),
            nsfw_level=c.nsfw_level(d.get("nsfwLevel"), d.get("nsfw")),
            poi=c.as_bool(d.get("poi")),
            minor=c.as_bool(d.get("minor")),
            availability=c.as_opt_str(d.get("availability")),
            mode=c.as_opt_str(d.get("mode")),
            allow_no_credit=c.as_bool(d.get("allowNoCredit"), True),
            allow_commercial_use=c.commercial_use(d.get("allowCommercialUse")),
            allow_derivatives=c.as_bool(d.get("allowDerivatives"), True),
            allow_different_license=c.as_bool(d.get("allowDifferentLicense", d.get("allowDifferentLicenses")), True),
            download_count=c.as_int(stats.get("downloadCount")),
            thumbs_up=c.as_int(stats.get("thumbsUpCount")),
            creator=Creator.from_json(d.get("creator")),
            tags=c.as_str_list(d.get("tags")),
            versions=[ModelVersion.from_json(v, model_id) for v in c.as_list(d.get("modelVersions")) if isinstance(v, dict)],
            raw=d,
        )


@dataclass
class Page:
    """One page of a cursor-paged list (models or images)."""

    items: list
    next_cursor: str | None = None
    next_page: str | None = None

    @property
    def has_more(self) -> bool:
        # Stop on a missing cursor OR an empty page: following nextPage alone has looped forever (Browser+ #397).
        return bool(self.items) and bool(self.next_page or self.next_cursor)


@dataclass
class Enums:
    model_types: list[str]
    base_models: list[str]
    file_types: list[str] = field(default_factory=list)
    from_server: bool = True

    @classmethod
    def from_json(cls, data: Any) -> Enums:
        d = c.as_dict(data)
        bases = c.as_str_list(d.get("ActiveBaseModel")) or c.as_str_list(d.get("BaseModel"))
        return cls(c.as_str_list(d.get("ModelType")), bases, c.as_str_list(d.get("ModelFileType")))


def parse_model_page(data: Any) -> Page:
    d = c.as_dict(data)
    meta = c.as_dict(d.get("metadata"))
    items = [Model.from_json(m) for m in c.as_list(d.get("items")) if isinstance(m, dict)]
    cursor = meta.get("nextCursor")
    return Page(items, c.as_str(cursor) or None if cursor is not None else None, c.as_opt_str(meta.get("nextPage")))


def parse_image_page(data: Any) -> Page:
    d = c.as_dict(data)
    meta = c.as_dict(d.get("metadata"))
    items = [ModelImage.from_json(i) for i in c.as_list(d.get("items")) if isinstance(i, dict)]
    cursor = meta.get("nextCursor")
    return Page(items, c.as_str(cursor) or None if cursor is not None else None, c.as_opt_str(meta.get("nextPage")))
