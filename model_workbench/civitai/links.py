"""Recognise a Civitai model link pasted into the search box (what Browser+ and Civitai Helper accept).

``parse_model_link(text)`` answers the model and/or version a text points at, or None when the text
is an ordinary search. Recognised: model pages on civitai.com, civitai.red and civitai.green (any
subdomain, with or without scheme, ``?modelVersionId=``), download URLs
(``/api/download/models/<versionId>``), the API's own model and version URLs, and AIRs
(``urn:air:<ecosystem>:<type>:civitai:<modelId>@<versionId>``). Pure: no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .config import normalize_base_url
from .http import origin_of

CIVITAI_SITES = ("civitai.com", "civitai.red", "civitai.green")

_AIR = re.compile(r"^(?:urn:)?air:[^:\s]+:[^:\s]+:civitai:(\d+)(?:@(\d+))?(?:[:.][^\s]*)?$", re.IGNORECASE)
_PATHS = (
    (re.compile(r"^/models/(\d+)(?:/[^/]*)?/?$"), "model"),
    (re.compile(r"^/api/v1/models/(\d+)/?$"), "model"),
    (re.compile(r"^/api/download/models/(\d+)/?$"), "version"),
    (re.compile(r"^/api/v1/model-versions/(\d+)/?$"), "version"),
    (re.compile(r"^/model-versions/(\d+)/?$"), "version"),
)


@dataclass(frozen=True)
class ModelLink:
    """What a link names: the model, the version, or both (a download URL names only the version)."""

    model_id: int | None
    version_id: int | None


def _path_on_civitai(url: str, extra_sites: Iterable[str]) -> str | None:
    """The path of ``url`` below a Civitai site (a mirror's own path prefix taken off), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == site or host.endswith("." + site) for site in CIVITAI_SITES):
        return parts.path
    _, _, port = origin_of(url)
    for site in extra_sites:
        base = normalize_base_url(site)
        _, site_host, site_port = origin_of(base)
        prefix = urlsplit(base).path
        if (host, port) == (site_host, site_port) and (parts.path == prefix or parts.path.startswith(prefix + "/")):
            return parts.path[len(prefix):]
    return None


def parse_model_link(text: str, extra_sites: Iterable[str] = ()) -> ModelLink | None:
    """The model/version a pasted link or AIR names; None for anything else (then it is a search).

    ``extra_sites`` are base URLs that also count as Civitai (the configured site, e.g. a mirror).
    """
    text = (text or "").strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    air = _AIR.match(text)
    if air:
        return ModelLink(int(air.group(1)), int(air.group(2)) if air.group(2) else None)
    url = text if "://" in text else "https://" + text
    parts = urlsplit(url)
    path = _path_on_civitai(url, extra_sites) if parts.scheme in ("http", "https") else None
    if path is None:
        return None
    for pattern, kind in _PATHS:
        found = pattern.match(path)
        if not found:
            continue
        number = int(found.group(1))
        if kind == "version":
            return ModelLink(None, number)
        version = parse_qs(parts.query).get("modelVersionId", [""])[0]
        return ModelLink(number, int(version) if version.isdigit() else None)
    return None
