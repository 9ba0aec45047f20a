"""Mirror of the registry of ``extensions-builtin/Lora/networks.py`` (importable as ``networks``)."""

available_networks: dict = {}
available_network_aliases: dict = {}
available_network_hash_lookup: dict = {}
forbidden_network_aliases: dict = {"none": 1, "Addams": 1}
full_rescans = []


def list_available_networks():
    full_rescans.append(True)
    available_networks.clear()
    available_network_aliases.clear()
    available_network_hash_lookup.clear()

# --- the loading and weight-merging side (mirrors of networks.py in A1111 v1.10.1) ------------------
import os  # noqa: E402
import re  # noqa: E402

import network  # noqa: E402
import torch  # noqa: E402
from modules import sd_models, shared  # noqa: E402

loaded_networks: list = []
networks_in_memory: dict = {}

_UNET_BLOCK = re.compile(r"lora_unet_(down_blocks|mid_block|up_blocks)_(?:(\d+)_)?(attentions|resnets)_(\d+)_(.+)")
_DOWNSAMPLER = re.compile(r"lora_unet_down_blocks_(\d+)_downsamplers_0_conv")
_UPSAMPLER = re.compile(r"lora_unet_up_blocks_(\d+)_upsamplers_0_conv")
_TE_LAYER = re.compile(r"lora_te_text_model_encoder_layers_(\d+)_(.+)")
# WebUI's suffix_conversion: a diffusers ResnetBlock2D layer → its LDM ResBlock layer.
_RESNET_SUFFIX = {"conv1": "in_layers_2", "conv2": "out_layers_3", "norm1": "in_layers_0", "norm2": "out_layers_0",
                  "time_emb_proj": "emb_layers_1", "conv_shortcut": "skip_connection"}


def convert_diffusers_name_to_compvis(key, is_sd2):
    """The SD1 subset of WebUI's diffusers → compvis renaming (UNet blocks, samplers, CLIP-L layers)."""
    m = _UNET_BLOCK.fullmatch(key)
    if m:
        kind, block, part, index, suffix = m.groups()
        attn = part == "attentions"
        if not attn:
            suffix = _RESNET_SUFFIX.get(suffix, suffix)
        if kind == "down_blocks":
            return f"diffusion_model_input_blocks_{1 + int(block) * 3 + int(index)}_{1 if attn else 0}_{suffix}"
        if kind == "mid_block":
            return f"diffusion_model_middle_block_{1 if attn else int(index) * 2}_{suffix}"
        return f"diffusion_model_output_blocks_{int(block) * 3 + int(index)}_{1 if attn else 0}_{suffix}"
    m = _DOWNSAMPLER.fullmatch(key)
    if m:
        return f"diffusion_model_input_blocks_{3 + int(m.group(1)) * 3}_0_op"
    m = _UPSAMPLER.fullmatch(key)
    if m:
        block = int(m.group(1))
        return f"diffusion_model_output_blocks_{2 + block * 3}_{2 if block > 0 else 1}_conv"
    m = _TE_LAYER.fullmatch(key)
    if m:
        return f"transformer_text_model_encoder_layers_{m.group(1)}_{m.group(2)}"
    return key


def assign_network_names_to_compvis_modules(sd_model):
    mapping = {}
    cond_stage_model = getattr(shared.sd_model.cond_stage_model, "wrapped", shared.sd_model.cond_stage_model)
    for name, module in cond_stage_model.named_modules():
        mapping[name.replace(".", "_")] = module
        module.network_layer_name = name.replace(".", "_")
    for name, module in shared.sd_model.model.named_modules():
        mapping[name.replace(".", "_")] = module
        module.network_layer_name = name.replace(".", "_")
    sd_model.network_layer_mapping = mapping


def load_network(name, network_on_disk):
    net = network.Network(name, network_on_disk)
    net.mtime = os.path.getmtime(network_on_disk.filename)
    sd = sd_models.read_state_dict(network_on_disk.filename)
    if not hasattr(shared.sd_model, "network_layer_mapping"):
        assign_network_names_to_compvis_modules(shared.sd_model)
    matched = {}
    for key_network, weight in sd.items():
        prefix, _, part = key_network.partition(".")
        key = convert_diffusers_name_to_compvis(prefix, False)
        sd_module = shared.sd_model.network_layer_mapping.get(key)
        if sd_module is None and "lora_unet" in prefix:
            # WebUI's fallback for keys that already carry LDM/SGM names (SDXL's, off-layout samplers)
            key = prefix.replace("lora_unet", "diffusion_model")
            sd_module = shared.sd_model.network_layer_mapping.get(key)
        if sd_module is None:
            continue  # WebUI only logs these at debug level
        if key not in matched:
            matched[key] = network.NetworkWeights(network_key=key_network, sd_key=key, w={}, sd_module=sd_module)
        matched[key].w[part] = weight
    for key, weights in matched.items():
        net.modules[key] = network.NetworkModuleLora(net, weights)
    return net


def store_weights_backup(weight):
    return None if weight is None else weight.to("cpu", copy=True)


def restore_weights_backup(obj, field, weight):
    if weight is None:
        setattr(obj, field, None)
        return
    getattr(obj, field).copy_(weight)


def network_restore_weights_from_backup(self):
    weights_backup = getattr(self, "network_weights_backup", None)
    bias_backup = getattr(self, "network_bias_backup", None)
    if weights_backup is None and bias_backup is None:
        return
    # Like WebUI's: no no_grad here (its callers are forwards under inference), so a weight that
    # requires grad refuses the in-place copy.
    if weights_backup is not None:
        restore_weights_backup(self, "weight", weights_backup)
    restore_weights_backup(self, "bias", bias_backup)


def network_reset_cached_weight(self):
    self.network_current_names = ()
    self.network_weights_backup = None
    self.network_bias_backup = None


def network_apply_weights(self):
    """What every patched Linear/Conv2d forward calls: back up once, then merge the loaded networks."""
    network_layer_name = getattr(self, "network_layer_name", None)
    if network_layer_name is None or not isinstance(self, (torch.nn.Linear, torch.nn.Conv2d)):
        return
    current_names = getattr(self, "network_current_names", ())
    wanted_names = tuple((x.name, x.te_multiplier, x.unet_multiplier, x.dyn_dim) for x in loaded_networks)
    if getattr(self, "network_weights_backup", None) is None and wanted_names != ():
        self.network_weights_backup = store_weights_backup(self.weight)
    if getattr(self, "network_bias_backup", None) is None and wanted_names != ():
        self.network_bias_backup = store_weights_backup(self.bias)
    if current_names != wanted_names:
        network_restore_weights_from_backup(self)
        for net in loaded_networks:
            module = net.modules.get(network_layer_name)
            if module is not None:
                with torch.no_grad():
                    updown, _ = module.calc_updown(self.weight)
                    self.weight.copy_(self.weight + updown)
        self.network_current_names = wanted_names
