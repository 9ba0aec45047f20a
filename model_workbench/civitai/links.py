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


def _host_port(netloc: str) -> tuple[str, int | None]:
    host, _, port = netloc.lower().rpartition("@")[2].partition(":")
    return host, int(port) if port.isdigit() else None


def _is_civitai(netloc: str, extra_sites: Iterable[str]) -> bool:
    host, port = _host_port(netloc)
    if any(host == site or host.endswith("." + site) for site in CIVITAI_SITES):
        return True
    for site in extra_sites:
        other = urlsplit(site if "://" in site else "https://" + site)
        if (host, port) == _host_port(other.netloc):
            return True
    return False


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
    parts = urlsplit(text if "://" in text else "https://" + text)
    if parts.scheme not in ("http", "https") or not _is_civitai(parts.netloc, extra_sites):
        return None
    for pattern, kind in _PATHS:
        found = pattern.match(parts.path)
        if not found:
            continue
        number = int(found.group(1))
        if kind == "version":
            return ModelLink(None, number)
        version = parse_qs(parts.query).get("modelVersionId", [""])[0]
        return ModelLink(number, int(version) if version.isdigit() else None)
    return None
