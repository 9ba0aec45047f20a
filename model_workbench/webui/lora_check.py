"""Load a LoRA file with WebUI's own Lora code against the loaded model and report what matched.

WebUI's ``networks.load_network`` silently drops keys it cannot map to a layer (it only logs them
at debug level), so a file that "loads" may still be half ignored. The unmatched keys are worked
out from the returned network: each loaded module remembers the first file key of its layer
(``network_key``); every file key whose layer prefix no module came from was dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_workbench.host import HostFeatureUnavailable
from model_workbench.webui import messages


def file_keys(path: Path, sd_models: Any) -> list[str]:
    """The tensor names in a LoRA file (safetensors: the header only)."""
    if path.suffix.lower() == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as f:
            return list(f.keys())
    return list(sd_models.read_state_dict(str(path), map_location="cpu").keys())


def check_lora(path: Path, networks: Any | None, network: Any | None, sd_models: Any, sd_model: Any) -> dict[str, Any]:
    """``{"name", "modules", "total_keys", "matched_keys", "unmatched_keys"}`` for the file at ``path``."""
    if networks is None or network is None:
        raise HostFeatureUnavailable(messages.LORA_NO_LOADER)
    if sd_model is None:
        raise HostFeatureUnavailable(messages.NO_MODEL)
    if not path.is_file():
        raise FileNotFoundError(messages.LORA_NO_FILE.format(path=path))
    # A name of our own: the check must not replace an entry of WebUI's LoRA list or its cache.
    name = f"model-workbench-check-{path.stem}"
    net = networks.load_network(name, network.NetworkOnDisk(name, str(path)))
    keys = file_keys(path, sd_models)
    matched_prefixes = {m.network_key.partition(".")[0] for m in net.modules.values()}
    unmatched = [k for k in keys if k.partition(".")[0] not in matched_prefixes and not k.startswith("bundle_emb.")]
    return {
        "name": name,
        "modules": len(net.modules),
        "total_keys": len(keys),
        "matched_keys": len(keys) - len(unmatched),
        "unmatched_keys": unmatched,
    }


def check_lora_forge(path: Path, engine: Any, forge_lora: Any, load_file: Any) -> dict[str, Any]:
    """The same report through a Forge-family loader (Forge's ``backend.patcher.lora`` or the
    ``ldm_patched.modules.lora`` of reForge and Forge Classic): the file's keys are matched against
    the key maps built from the loaded UNet and text encoders, as those hosts do before patching."""
    objects = getattr(engine, "forge_objects_original", None) or getattr(engine, "forge_objects", None)
    if engine is None or objects is None:
        raise HostFeatureUnavailable(messages.NO_MODEL)
    if not path.is_file():
        raise FileNotFoundError(messages.LORA_NO_FILE.format(path=path))
    key_map: dict[str, str] = {}
    key_map.update(forge_lora.model_lora_keys_unet(objects.unet.model, {}))
    key_map.update(forge_lora.model_lora_keys_clip(objects.clip.cond_stage_model, {}))
    state = load_file(str(path), safe_load=True)
    found = forge_lora.load_lora(state, key_map)
    patches = found[0] if isinstance(found, tuple) else found  # Forge also returns the leftovers
    matched_prefixes = {prefix for prefix, weight in key_map.items() if weight in patches}
    unmatched = sorted(k for k in state if k.partition(".")[0] not in matched_prefixes)
    return {
        "name": path.stem,
        "modules": len(patches),
        "total_keys": len(state),
        "matched_keys": len(state) - len(unmatched),
        "unmatched_keys": unmatched,
    }
