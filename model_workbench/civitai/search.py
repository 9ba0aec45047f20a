"""Search filters and cursor paging with a Back stack.

Civitai's ``/api/v1/models`` has no ``prevPage`` and no totals any more: the only way back is to
remember the ``nextPage`` URLs we followed. Paging stops on a missing cursor *or* an empty page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .coerce import NSFW_PG13, NSFW_XXX
from .types import Page

if TYPE_CHECKING:
    from .client import CivitaiClient

MAX_LIMIT = 100  # larger limits are a 400 on Civitai, not clamped


@dataclass
class SearchQuery:
    query: str = ""
    types: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    sort: str | None = None
    period: str | None = None
    tag: str | None = None
    username: str | None = None
    limit: int = 20
    max_nsfw_level: int = NSFW_PG13  # 1 PG … 16 XXX; also filtered locally, the API's nsfw flag is unreliable
    checkpoint_type: str | None = None
    primary_file_only: bool = False
    extra: list[tuple[str, str]] = field(default_factory=list)

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [("limit", str(max(1, min(MAX_LIMIT, int(self.limit)))))]
        if self.query.strip():
            out.append(("query", self.query.strip()))
        out += [("types", t) for t in self.types if t]  # repeated parameter, not comma-joined
        out += [("baseModels", b) for b in self.base_models if b]
        for key, value in (("sort", self.sort), ("period", self.period), ("tag", self.tag),
                           ("username", self.username), ("checkpointType", self.checkpoint_type)):
            if value:
                out.append((key, value))
        # Without nsfw=true Civitai returns PG only; we ask for everything and filter locally.
        out.append(("nsfw", "true" if self.max_nsfw_level > NSFW_PG13 else "false"))
        if self.primary_file_only:
            out.append(("primaryFileOnly", "true"))
        out += list(self.extra)
        return out

    def allowed_mask(self) -> int:
        level = max(1, min(self.max_nsfw_level, NSFW_XXX))
        return (level << 1) - 1  # every level up to and including the chosen one

    def filter_page(self, page: Page) -> Page:
        """Drop models whose NSFW levels all lie above the allowed level (paging info is kept)."""
        mask = self.allowed_mask()
        kept = [m for m in page.items if (getattr(m, "nsfw_level", 1) & mask)]
        return replace(page, items=kept) if len(kept) != len(page.items) else page


class SearchPager:
    """Next/Back over a search. ``pages`` is a stack of the nextPage URLs followed (None = first page)."""

    def __init__(self, client: CivitaiClient, query: SearchQuery) -> None:
        self.client = client
        self.query = query
        self._stack: list[str | None] = []
        self.current: Page | None = None

    @property
    def page_number(self) -> int:
        return len(self._stack)

    @property
    def can_go_back(self) -> bool:
        return len(self._stack) > 1

    @property
    def can_go_next(self) -> bool:
        return self.current is not None and self.current.has_more

    def first(self) -> Page:
        self._stack = [None]
        self.current = self.client.search(self.query)
        return self.current

    def next(self) -> Page:
        if self.current is None:
            return self.first()
        if not self.can_go_next:
            return self.current
        url = self._next_url(self.current)
        page = self.client.get_page(url, self.query)
        self._stack.append(url)
        self.current = page
        return page

    def back(self) -> Page:
        if not self.can_go_back:
            return self.current if self.current is not None else self.first()
        self._stack.pop()
        url = self._stack[-1]
        self.current = self.client.search(self.query) if url is None else self.client.get_page(url, self.query)
        return self.current

    def _next_url(self, page: Page) -> str:
        if page.next_page:
            return page.next_page  # followed as returned, never rebuilt
        # Only a cursor: add it to the first request's parameters.
        import httpx

        params = [(k, v) for k, v in self.query.params() if k != "cursor"] + [("cursor", page.next_cursor or "")]
        return str(httpx.URL(self.client.url("/api/v1/models"), params=params))
