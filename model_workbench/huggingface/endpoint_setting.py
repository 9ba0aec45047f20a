"""The Hub endpoint a user types in Settings: empty (huggingface.co), or a mirror such as hf-mirror.com.

Checked when saved, as the Civitai site is, so that a typo is refused with a sentence instead of
failing later on every search.
"""

from __future__ import annotations

from model_workbench.civitai.endpoints import AddressRefused, normalize_site_url

MSG_ENDPOINT_REFUSED = ("“{value}” is not a web address. Leave it empty for https://huggingface.co, or type the "
                        "address of a Hugging Face mirror, such as https://hf-mirror.com.")


def normalize_hub_endpoint(text: str) -> str:
    """``hf-mirror.com/`` → ``https://hf-mirror.com``; "" stays "" (huggingface.co); anything else raises
    :class:`AddressRefused` with :data:`MSG_ENDPOINT_REFUSED`."""
    value = (text or "").strip()
    try:
        return normalize_site_url(value)
    except AddressRefused:
        raise AddressRefused(MSG_ENDPOINT_REFUSED, value=value if len(value) <= 80 else value[:77] + "…") from None
