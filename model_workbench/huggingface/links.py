"""Recognise a Hub link pasted into the search box: which repo, revision and file it names.

Recognised (on huggingface.co, hf.co, hf-mirror.com and the configured endpoint, with or without
scheme): ``/<org>/<repo>``, ``…/tree/<rev>[/<folder>]``, ``…/blob/<rev>/<path>``, ``…/resolve/<rev>/<path>``,
``…/raw/<rev>/<path>``, ``…/commit/<sha>``, the API's ``/api/models/<org>/<repo>[/revision|tree/<rev>]``, and
a bare ``org/repo``. Anything else is an ordinary search (None). Pure: no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from model_workbench.civitai.config import normalize_base_url
from model_workbench.civitai.http import origin_of

from .endpoint import KNOWN_HUB_HOSTS

DEFAULT_REVISION = "main"
# First path segments of Hub pages that are not a user or organisation.
_NOT_OWNERS = {"models", "datasets", "spaces", "api", "docs", "settings", "login", "join", "organizations",
               "collections", "papers", "blog", "pricing", "tasks", "search", "notifications", "new", "posts"}
_OWNER = re.compile(r"[A-Za-z0-9][\w-]*")  # user and organisation names have no dots
_NAME = re.compile(r"[A-Za-z0-9_.][\w.-]*")
_FILE_VIEWS = {"blob", "resolve", "raw"}


@dataclass(frozen=True)
class HubLink:
    """What a link names: always a repo; a revision ("main" unless the link says); a file path or None."""

    repo_id: str
    revision: str = DEFAULT_REVISION
    path: str | None = None


def _repo_of(owner: str, name: str) -> str | None:
    if owner.lower() in _NOT_OWNERS or not _OWNER.fullmatch(owner) or not _NAME.fullmatch(name):
        return None
    return f"{owner}/{name}"


def _segments_on_hub(url: str, endpoints: Iterable[str]) -> list[str] | None:
    """The path of ``url`` below a Hub site (a mirror's own path prefix taken off) as unquoted segments."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path: str | None = None
    if any(host == site or host == "www." + site for site in KNOWN_HUB_HOSTS):
        path = parts.path
    else:
        _, _, port = origin_of(url)
        for site in endpoints:
            if not (site or "").strip():
                continue
            base = normalize_base_url(site)
            _, site_host, site_port = origin_of(base)
            prefix = urlsplit(base).path
            if (host, port) == (site_host, site_port) and (parts.path == prefix or parts.path.startswith(prefix + "/")):
                path = parts.path[len(prefix):]
                break
    if path is None:
        return None
    # Split first, then unquote: a revision such as refs%2Fpr%2F1 is one segment.
    return [unquote(s) for s in path.split("/") if s]


def _from_api(segments: list[str]) -> HubLink | None:
    """``api/models/<org>/<repo>[/revision/<rev> | /tree/<rev>[/…]]``."""
    if len(segments) < 4 or segments[1] != "models":
        return None
    repo = _repo_of(segments[2], segments[3])
    if repo is None:
        return None
    rest = segments[4:]
    if len(rest) >= 2 and rest[0] in ("revision", "tree"):
        return HubLink(repo, rest[1])
    return HubLink(repo)


def parse_hub_link(text: str, endpoints: Iterable[str] = ()) -> HubLink | None:
    """The repo (and revision, file) a pasted Hub link or bare ``org/repo`` names; None for anything else.

    ``endpoints`` are base URLs that also count as the Hub (the configured endpoint, e.g. a mirror).
    """
    text = (text or "").strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    if "://" not in text and text.count("/") == 1:
        owner, name = text.split("/")
        repo = _repo_of(owner, name)
        if repo is not None:
            return HubLink(repo)
    url = text if "://" in text else "https://" + text
    try:
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        urlsplit(url).port  # noqa: B018 - raises ValueError for a port that is not a number
        segments = _segments_on_hub(url, endpoints)
    except ValueError:  # a port that is not a number
        return None
    if not segments:
        return None
    if segments[0] == "api":
        return _from_api(segments)
    if len(segments) < 2:
        return None
    repo = _repo_of(segments[0], segments[1])
    if repo is None:
        return None
    view, rest = (segments[2], segments[3:]) if len(segments) > 2 else ("", [])
    if view in _FILE_VIEWS and len(rest) >= 2:
        return HubLink(repo, rest[0], "/".join(rest[1:]))
    if view in ("tree", "commit") and rest:
        return HubLink(repo, rest[0])
    return HubLink(repo)
