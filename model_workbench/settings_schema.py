"""The user settings, defined once for WebUI's Settings page and the standalone app's settings file.

Pure data: WebUI's adapter turns each :class:`SettingSpec` into a ``shared.OptionInfo`` in the
"Model Workbench" section; the standalone app reads the same keys from flags, the environment and
``<data dir>/settings.json``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model_workbench.civitai.endpoints import CIVITAI_SITES
from model_workbench.host import ModelKind, WorkbenchSettings

SECTION_ID = "model_workbench"
SECTION_LABEL = "Model Workbench"
DEFAULT_CIVITAI_URL = "https://civitai.com"
CIVITAI_URL_ENV = "MODEL_WORKBENCH_CIVITAI_URL"
# Read as well as the setting, so a key can stay out of WebUI's config.json entirely.
API_KEY_ENVS = ("MODEL_WORKBENCH_CIVITAI_API_KEY", "CIVITAI_API_KEY")

# The content levels a user may choose, lowest first (Civitai's nsfwLevel 1, 2, 4, 8, 16).
NSFW_LEVELS = ("PG", "PG-13", "R", "X", "XXX")

# The kinds whose install folder a user may override (WebUI's own flags cover the rest).
OVERRIDABLE_KINDS = (
    ModelKind.CHECKPOINT,
    ModelKind.LORA,
    ModelKind.LYCORIS,
    ModelKind.EMBEDDING,
    ModelKind.HYPERNETWORK,
    ModelKind.VAE,
    ModelKind.CONTROLNET,
    ModelKind.UPSCALER,
)


# The keys other modules read by name (saving, the secrets store, WebUI's options).
API_KEY_SETTING = "model_workbench_civitai_api_key"
SITE_SETTING = "model_workbench_civitai_base_url"  # "base URL": configs that set a mirror before the site choice
PROXY_SETTING = "model_workbench_proxy"
HF_ENDPOINT_SETTING = "model_workbench_hf_endpoint"
HF_TOKEN_SETTING = "model_workbench_hf_token"
# The settings that are secrets → their name in the owner-only secret store (never in config.json or the page).
SECRET_SETTINGS = {API_KEY_SETTING: "civitai_api_key", HF_TOKEN_SETTING: "hf_token"}
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
HF_ENDPOINT_ENV = "HF_ENDPOINT"  # huggingface_hub's own: a user who set it for a mirror means it here too
HF_TOKEN_ENV = "MODEL_WORKBENCH_HF_TOKEN"
HF_TOKEN_HUB_ENV = "HF_TOKEN"  # huggingface_hub's, made for huggingface.co: never sent to a mirror

@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    default: Any
    widget: str  # "text", "password", "dropdown" or "checkbox"
    info: str = ""
    choices: tuple[str, ...] = ()
    allow_custom: bool = False  # a dropdown that also takes a typed value


def folder_key(kind: ModelKind) -> str:
    return f"model_workbench_dir_{kind.value}"


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        API_KEY_SETTING,
        "Civitai API key",
        "",
        "password",
        "Needed for models that require login. Create one at civitai.com → Account settings → API Keys. "
        "Sent only to the Civitai host.",
    ),
    SettingSpec(
        # The key keeps its old name ("base URL"): configs that set a mirror before the site choice still work.
        SITE_SETTING,
        "Civitai site",
        "",
        "dropdown",
        "civitai.com shows safe-for-work models only, civitai.red shows everything. Or type the address of a "
        f"Civitai mirror or proxy. Empty means {DEFAULT_CIVITAI_URL} (or ${CIVITAI_URL_ENV} when set).",
        CIVITAI_SITES,
        allow_custom=True,
    ),
    SettingSpec(
        "model_workbench_nsfw_level",
        "Highest NSFW level shown",
        "PG-13",
        "dropdown",
        "Previews above this level are hidden and never saved. civitai.com itself shows nothing above PG-13: "
        "choose civitai.red as the site for more.",
        NSFW_LEVELS,
    ),
    SettingSpec(
        HF_ENDPOINT_SETTING,
        "Hugging Face endpoint",
        "",
        "text",
        f"Empty means {DEFAULT_HF_ENDPOINT} (or ${HF_ENDPOINT_ENV} when set). Where the Hub is blocked or slow, "
        "type a mirror such as https://hf-mirror.com.",
    ),
    SettingSpec(
        HF_TOKEN_SETTING,
        "Hugging Face access token",
        "",
        "password",
        "Needed for gated and private repos: accept the license on the model page, then create a read token at "
        "huggingface.co → Settings → Access Tokens. Sent only to the Hugging Face endpoint above.",
    ),
    SettingSpec(
        PROXY_SETTING,
        "Proxy for Civitai and Hugging Face",
        "",
        "text",
        "For example http://127.0.0.1:7890 or socks5://127.0.0.1:1080. Empty means no proxy.",
    ),
    SettingSpec(
        "model_workbench_use_subfolders",
        "Install into a subfolder per base model",
        False,
        "checkbox",
        "For example models/Lora/SDXL 1.0/",
    ),
    SettingSpec(
        "model_workbench_updates_skip_early_access",
        "Update badges leave out Early Access and paid versions",
        True,
        "checkbox",
        "A newer version you cannot download yet is not shown as an update.",
    ),
) + tuple(
    SettingSpec(
        folder_key(kind),
        f"Install folder for {kind.value} models",
        "",
        "text",
        "Empty means WebUI's own folder for this kind.",
    )
    for kind in OVERRIDABLE_KINDS
)


def defaults() -> dict[str, Any]:
    return {spec.key: spec.default for spec in SETTINGS}


def settings_from_values(values: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> WorkbenchSettings:
    """Build :class:`WorkbenchSettings` from option values, falling back to the environment."""
    env = os.environ if environ is None else environ

    def text(key: str) -> str:
        value = values.get(key)
        return str(value).strip() if value is not None else ""

    api_key = text(API_KEY_SETTING) or next(
        (env[name].strip() for name in API_KEY_ENVS if env.get(name, "").strip()), ""
    )
    base_url = text(SITE_SETTING) or env.get(CIVITAI_URL_ENV, "").strip() or DEFAULT_CIVITAI_URL
    hf_endpoint = (text(HF_ENDPOINT_SETTING) or env.get(HF_ENDPOINT_ENV, "").strip() or DEFAULT_HF_ENDPOINT).rstrip("/")
    hf_token = text(HF_TOKEN_SETTING) or env.get(HF_TOKEN_ENV, "").strip()
    if not hf_token and hf_endpoint == DEFAULT_HF_ENDPOINT:
        hf_token = env.get(HF_TOKEN_HUB_ENV, "").strip()
    nsfw = text("model_workbench_nsfw_level") or "PG-13"
    if nsfw == "None":  # an earlier version's name for "PG only"
        nsfw = "PG"
    if nsfw not in NSFW_LEVELS:
        nsfw = "PG-13"
    overrides = {kind.value: text(folder_key(kind)) for kind in OVERRIDABLE_KINDS if text(folder_key(kind))}
    return WorkbenchSettings(
        civitai_api_key=api_key,
        civitai_base_url=base_url.rstrip("/"),
        proxy=text(PROXY_SETTING),
        hf_endpoint=hf_endpoint,
        hf_token=hf_token,
        nsfw_level=nsfw,
        folder_overrides=overrides,
        use_subfolders=bool(values.get("model_workbench_use_subfolders", False)),
        updates_skip_early_access=bool(values.get("model_workbench_updates_skip_early_access", True)),
    )
