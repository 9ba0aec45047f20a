"""What AUTOMATIC1111 WebUI can use of what Civitai offers, to say so before a download.

Civitai lists model types that no part of WebUI loads (ComfyUI workflows, wildcard lists, poses…) and,
since 2024, base models whose architecture A1111 cannot run (Flux, SD 3.5, video models, and the many
that follow). Both checks are "known good" lists, so a base model Civitai adds tomorrow is flagged
rather than silently assumed to work. Pure Python.
"""

from __future__ import annotations

import re

# Civitai types (letters only, lower case) that WebUI itself never loads: such files land in a folder
# nothing reads (models/Other, models/Poses, …).
WEBUI_UNLOADED_TYPES = frozenset({"workflows", "comfyworkflows", "wildcards", "poses", "other", "aestheticgradient"})

# Base models A1111 runs: SD 1.x, SD 2.x, SDXL and its descendants, SD 3 (Medium, since v1.10). "Other"
# and an empty value say nothing, so nothing is claimed about them.
_A1111_BASES = re.compile(r"^(sd ?1(\.\d)?|sd ?2(\.\d)?|sdxl|pony|illustrious|noobai|playground|sd ?3$|sd ?3 medium$|"
                          r"other$)", re.IGNORECASE)


def _letters(value: str | None) -> str:
    return re.sub(r"[^a-z]", "", (value or "").lower())


def webui_loads_type(model_type: str | None) -> bool:
    """False for the Civitai types that WebUI never loads."""
    return _letters(model_type) not in WEBUI_UNLOADED_TYPES


def a1111_runs_base_model(base_model: str | None) -> bool:
    """False for base models whose architecture AUTOMATIC1111 WebUI cannot run (Flux, SD 3.5, video…)."""
    base = (base_model or "").strip()
    return not base or bool(_A1111_BASES.match(base))
