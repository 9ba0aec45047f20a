"""The two addresses a user types for reaching Civitai: the site (or a mirror) and the proxy.

Both are checked when the settings are saved, so a typo is refused there with a sentence instead of
failing later on every request; and again when a client is made from them, for values that reached
the settings another way (a hand-edited config file).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from .config import normalize_base_url
from .errors import CivitaiError

# Since April 2026 civitai.com shows safe-for-work content only and civitai.red everything; the REST
# API answers on both, filtered the same way.
CIVITAI_SITES = ("https://civitai.com", "https://civitai.red")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

PROXY_REFUSED = ("“{value}” is not a proxy address. Write it as http://host:port, https://host:port, "
                 "socks5://host:port or socks5h://host:port, for example http://127.0.0.1:7890.")
SITE_REFUSED = ("“{value}” is not a web address. Choose https://civitai.com or https://civitai.red, or type "
                "the address of a Civitai mirror or proxy, such as https://civitai.example.org.")
SOCKSIO_MISSING = ("A SOCKS proxy needs the Python package socksio, which is not installed. Install it with "
                   "“pip install socksio” in the Python environment that runs Model Workbench (inside WebUI, "
                   "Model Workbench installs it at WebUI's next start), then restart.")
# Every sentence this module can say, for the translation table.
SENTENCES = (PROXY_REFUSED, SITE_REFUSED, SOCKSIO_MISSING)

_HOST_NAME = re.compile(r"\w(?:[\w-]*\w)?(?:\.\w(?:[\w-]*\w)?)*\.?")


class AddressRefused(CivitaiError):
    """A proxy or site address that cannot be used; ``template`` and ``values`` let the UI translate it."""

    def __init__(self, template: str, **values: str) -> None:
        super().__init__(template.format(**values))
        self.template = template
        self.values = values


def _shown(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "…"


def _valid_host(host: str | None) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST_NAME.fullmatch(host))


def _split(value: str, default_scheme: str, schemes: tuple[str, ...]) -> SplitResult | None:
    """``value`` split into its parts, or None when it is not an address with one of ``schemes``."""
    try:
        parts = urlsplit(value if "://" in value else f"{default_scheme}://{value}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return None
    if parts.scheme.lower() not in schemes or not _valid_host(parts.hostname) or parts.query or parts.fragment:
        return None
    return parts


def normalize_proxy(text: str) -> str:
    """``127.0.0.1:7890`` → ``http://127.0.0.1:7890``; "" stays ""; anything unusable raises :class:`AddressRefused`."""
    value = (text or "").strip()
    if not value:
        return ""
    parts = _split(value, "http", PROXY_SCHEMES)
    if parts is None or parts.path not in ("", "/"):
        raise AddressRefused(PROXY_REFUSED, value=_shown(value))
    return f"{parts.scheme.lower()}://{parts.netloc}"


def normalize_site_url(text: str) -> str:
    """``civitai.red/`` → ``https://civitai.red``; "" stays "" (the default site); anything else raises."""
    value = (text or "").strip()
    if not value:
        return ""
    parts = _split(value, "https", ("http", "https"))
    if parts is None:
        raise AddressRefused(SITE_REFUSED, value=_shown(value))
    return normalize_base_url(parts._replace(scheme=parts.scheme.lower()).geturl())


def _has_socksio() -> bool:
    return importlib.util.find_spec("socksio") is not None


def socks_support_missing(proxy: str) -> str:
    """The sentence saying how to install socksio when ``proxy`` is a SOCKS proxy and it is missing; else ""."""
    if (proxy or "").strip().lower().startswith("socks") and not _has_socksio():
        return SOCKSIO_MISSING
    return ""


def httpx_proxy(proxy: str | None) -> str | None:
    """The proxy as httpx takes it, or None; raises :class:`AddressRefused` with a sentence when it cannot work."""
    value = normalize_proxy(proxy or "")
    if not value:
        return None
    if socks_support_missing(value):
        raise AddressRefused(SOCKSIO_MISSING)
    # httpx before 0.28 knows only socks5, which already lets the proxy resolve host names (socks5h).
    return "socks5://" + value[len("socks5h://"):] if value.startswith("socks5h://") else value
