"""What Save does with the settings a user submits: check, keep, forget, and say what changed.

The standalone Settings tab sends every field as the page shows it. The API key never goes to the
page, so its field is empty after every load: an empty field keeps the saved key, and forgetting
the key is its own action. A proxy or site address that cannot work is refused with a sentence and
nothing is saved, so a typo never replaces a working setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from model_workbench.civitai.endpoints import (
    SOCKSIO_MISSING,
    AddressRefused,
    normalize_proxy,
    normalize_site_url,
    socks_support_missing,
)
from model_workbench.huggingface.endpoint import normalize_endpoint as normalize_hub_endpoint
from model_workbench.secrets_store import MASK
from model_workbench.settings_schema import API_KEY_SETTING as API_KEY
from model_workbench.settings_schema import HF_ENDPOINT_SETTING as HF_ENDPOINT
from model_workbench.settings_schema import HF_TOKEN_SETTING as HF_TOKEN
from model_workbench.settings_schema import PROXY_SETTING as PROXY
from model_workbench.settings_schema import SECRET_SETTINGS, SETTINGS, SettingSpec
from model_workbench.settings_schema import SITE_SETTING as SITE

# The keys the settings forms name (re-exported for the UI and tests).
__all__ = ["API_KEY", "HF_ENDPOINT", "HF_TOKEN", "NORMALIZERS", "PROXY", "SITE", "SettingsSave", "plan_save"]

# Settings whose value is checked and written in one form when saved (WebUI runs these as ``onchange``).
NORMALIZERS: dict[str, Callable[[str], str]] = {PROXY: normalize_proxy, SITE: normalize_site_url,
                                                HF_ENDPOINT: normalize_hub_endpoint}


@dataclass
class SettingsSave:
    values: dict[str, Any]  # every setting as it is to be stored (the current values when refused)
    changed: list[SettingSpec] = field(default_factory=list)
    refusals: list[AddressRefused] = field(default_factory=list)  # nothing is saved when there is one
    notes: list[str] = field(default_factory=list)  # saved, but something needs doing (sentences)


def _submitted_value(spec: SettingSpec, value: Any) -> Any:
    value = value.strip() if isinstance(value, str) else value
    normalize = NORMALIZERS.get(spec.key)
    return normalize(value or "") if normalize else value


def plan_save(current: Mapping[str, Any], submitted: Mapping[str, Any], *, forget_key: bool = False,
              forget: Iterable[str] = ()) -> SettingsSave:
    """The settings after saving ``submitted`` over ``current`` (neither is changed); ``forget`` names the
    secrets (the Civitai key, the Hub token) to remove, ``forget_key`` is ``forget=(API_KEY,)``."""
    values = dict(current)
    refusals: list[AddressRefused] = []
    for spec in SETTINGS:
        if spec.key not in submitted:
            continue
        if spec.key in SECRET_SETTINGS and submitted[spec.key] in (None, "", MASK):
            continue  # the page never shows a secret: empty means "keep the saved one"
        try:
            values[spec.key] = _submitted_value(spec, submitted[spec.key])
        except AddressRefused as refusal:
            refusals.append(refusal)
    for key in [API_KEY] * forget_key + list(forget):
        values[key] = ""
    if refusals:
        return SettingsSave(values=dict(current), refusals=refusals)
    changed = [spec for spec in SETTINGS if values.get(spec.key, spec.default) != current.get(spec.key, spec.default)]
    notes = [SOCKSIO_MISSING] if socks_support_missing(values.get(PROXY, "")) else []
    return SettingsSave(values=values, changed=changed, notes=notes)
