"""Mirror of ``extensions-builtin/Lora/network.py: NetworkOnDisk``."""

import hashlib
import os


class NetworkOnDisk:
    def __init__(self, name, filename):
        self.name = name
        self.filename = filename
        self.metadata = {}
        self.is_safetensors = os.path.splitext(filename)[1].lower() == ".safetensors"
        self.alias = self.metadata.get("ss_output_name", self.name)
        self.hash = None
        self.shorthash = None
        self.set_hash("")  # WebUI reads its hash cache here; an uncached file gets its hash when loaded

    def set_hash(self, v):
        self.hash = v
        self.shorthash = self.hash[0:12]
        if self.shorthash:
            import networks
            networks.available_network_hash_lookup[self.shorthash] = self

    def read_hash(self):
        """WebUI hashes the file when a generation loads it (``networks.load_networks``)."""
        if not self.hash:
            with open(self.filename, "rb") as f:
                self.set_hash(hashlib.sha256(f.read()).hexdigest())


class NetworkWeights:
    def __init__(self, network_key, sd_key, w, sd_module):
        self.network_key = network_key
        self.sd_key = sd_key
        self.w = w
        self.sd_module = sd_module


class Network:  # a LoraModule in WebUI
    def __init__(self, name, network_on_disk):
        self.name = name
        self.network_on_disk = network_on_disk
        self.te_multiplier = 1.0
        self.unet_multiplier = 1.0
        self.dyn_dim = None
        self.modules = {}
        self.bundle_embeddings = {}
        self.mtime = None
        self.mentioned_name = None


class NetworkModuleLora:
    """Mirror of ``network_lora.NetworkModuleLora`` for Linear / Conv2d layers (up · down · alpha/dim)."""

    def __init__(self, net, weights):
        self.network = net
        self.network_key = weights.network_key
        self.sd_key = weights.sd_key
        self.sd_module = weights.sd_module
        self.up = weights.w["lora_up.weight"]
        self.down = weights.w["lora_down.weight"]
        self.alpha = float(weights.w["alpha"]) if "alpha" in weights.w else None
        self.dim = self.down.shape[0]

    def multiplier(self):
        return self.network.te_multiplier if "transformer" in self.sd_key[:20] else self.network.unet_multiplier

    def calc_updown(self, orig_weight):
        up = self.up.to(orig_weight.device, orig_weight.dtype).flatten(1)
        down = self.down.to(orig_weight.device, orig_weight.dtype).flatten(1)
        scale = self.alpha / self.dim if self.alpha is not None else 1.0
        updown = (up @ down).reshape(orig_weight.shape) * scale * self.multiplier()
        return updown, None
