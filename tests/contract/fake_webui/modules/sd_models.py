"""Mirror of the parts of ``modules/sd_models.py`` (v1.10.1) the host reads and calls: the checkpoint list
(``CheckpointInfo``, ``checkpoints_list``, ``checkpoint_aliases``, ``select_checkpoint``), ``model_data``
and the loader ``reload_model_weights``, with the real signatures."""

import hashlib
import os
import sys

model_path = "/webui/models/Stable-diffusion"
checkpoints_list: dict = {}
checkpoint_aliases: dict = {}


def read_state_dict(checkpoint_file, print_global_state=False, map_location=None):
    import safetensors.torch
    import torch

    if checkpoint_file.lower().endswith(".safetensors"):
        return safetensors.torch.load_file(checkpoint_file, device=map_location or "cpu")
    return torch.load(checkpoint_file, map_location=map_location or "cpu")


def model_hash(filename):
    """old hash that only looks at a small part of the file and is prone to collisions"""
    try:
        with open(filename, "rb") as file:
            m = hashlib.sha256()
            file.seek(0x100000)
            m.update(file.read(0x10000))
            return m.hexdigest()[0:8]
    except FileNotFoundError:
        return "NOFILE"


class CheckpointInfo:
    """As v1.10.1's (without reading the safetensors metadata, which the host does not use)."""

    def __init__(self, filename):
        from modules import hashes, shared

        self.filename = filename
        abspath = os.path.abspath(filename)
        abs_ckpt_dir = os.path.abspath(shared.cmd_opts.ckpt_dir) if shared.cmd_opts.ckpt_dir is not None else None
        self.is_safetensors = os.path.splitext(filename)[1].lower() == ".safetensors"
        if abs_ckpt_dir and abspath.startswith(abs_ckpt_dir):
            name = abspath.replace(abs_ckpt_dir, "")
        elif abspath.startswith(model_path):
            name = abspath.replace(model_path, "")
        else:
            name = os.path.basename(filename)
        if name.startswith("\\") or name.startswith("/"):
            name = name[1:]
        self.metadata = {}
        self.name = name
        self.name_for_extra = os.path.splitext(os.path.basename(filename))[0]
        self.model_name = os.path.splitext(name.replace("/", "_").replace("\\", "_"))[0]
        self.hash = model_hash(filename)
        self.sha256 = hashes.sha256_from_cache(self.filename, f"checkpoint/{name}")
        self.shorthash = self.sha256[0:10] if self.sha256 else None
        self.title = name if self.shorthash is None else f"{name} [{self.shorthash}]"
        self.short_title = self.name_for_extra if self.shorthash is None else f"{self.name_for_extra} [{self.shorthash}]"
        self.ids = [self.hash, self.model_name, self.title, name, self.name_for_extra, f"{name} [{self.hash}]"]
        if self.shorthash:
            self.ids += [self.shorthash, self.sha256, f"{self.name} [{self.shorthash}]",
                         f"{self.name_for_extra} [{self.shorthash}]"]

    def register(self):
        checkpoints_list[self.title] = self
        for id in self.ids:
            checkpoint_aliases[id] = self

    def calculate_shorthash(self):
        from modules import hashes

        self.sha256 = hashes.sha256(self.filename, f"checkpoint/{self.name}")
        if self.sha256 is None:
            return
        shorthash = self.sha256[0:10]
        if self.shorthash == self.sha256[0:10]:
            return self.shorthash
        self.shorthash = shorthash
        if self.shorthash not in self.ids:
            self.ids += [self.shorthash, self.sha256, f"{self.name} [{self.shorthash}]",
                         f"{self.name_for_extra} [{self.shorthash}]"]
        old_title = self.title
        self.title = f"{self.name} [{self.shorthash}]"
        self.short_title = f"{self.name_for_extra} [{self.shorthash}]"
        if old_title in checkpoints_list:  # replace_key: same place in the list, new title
            items = [(self.title if k == old_title else k, v) for k, v in checkpoints_list.items()]
            checkpoints_list.clear()
            checkpoints_list.update(items)
        self.register()
        return self.shorthash


def get_closet_checkpoint_match(search_string):
    if not search_string:
        return None
    checkpoint_info = checkpoint_aliases.get(search_string)
    if checkpoint_info is not None:
        return checkpoint_info
    found = sorted([info for info in checkpoints_list.values() if search_string in info.title], key=lambda x: len(x.title))
    return found[0] if found else None


def select_checkpoint():
    """Raises `FileNotFoundError` if no checkpoints are found."""
    from modules import shared

    model_checkpoint = shared.opts.sd_model_checkpoint
    checkpoint_info = checkpoint_aliases.get(model_checkpoint)
    if checkpoint_info is not None:
        return checkpoint_info
    if len(checkpoints_list) == 0:
        raise FileNotFoundError("No checkpoints found.")
    checkpoint_info = next(iter(checkpoints_list.values()))
    if model_checkpoint is not None:
        print(f"Checkpoint {model_checkpoint} not found; loading fallback {checkpoint_info.title}", file=sys.stderr)
    return checkpoint_info


class SdModelData:
    """``model_data``. The real ``shared.sd_model`` reads ``model_data.sd_model``; the fake keeps the model in
    ``shared.sd_model`` (tests set it there) and reads it from here."""

    def __init__(self):
        self.loaded_sd_models = []
        self.was_loaded_at_least_once = False

    @property
    def sd_model(self):
        from modules import shared

        return shared.sd_model

    @sd_model.setter
    def sd_model(self, value):
        from modules import shared

        shared.sd_model = value

    def set_sd_model(self, v, already_loaded=False):
        self.sd_model = v


model_data = SdModelData()
reloads = []


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    """As v1.10.1: the checkpoint ``info`` (else ``select_checkpoint()``) is loaded into the model unless it
    is loaded already; loading hashes it (``load_model_weights`` calls ``calculate_shorthash``). The fake's
    weights come from ``info.state_dict`` where the test gave one ("the file"); ``fail_next_reload`` makes
    the next load raise, after which, as WebUI does, the old checkpoint stays."""
    checkpoint_info = info or select_checkpoint()
    sd_model = sd_model or model_data.sd_model
    if sd_model is not None and sd_model.sd_model_checkpoint == checkpoint_info.filename and not forced_reload:
        return sd_model
    reloads.append((checkpoint_info, forced_reload))
    global fail_next_reload
    if fail_next_reload:
        fail_next_reload = None
        raise RuntimeError("Failed to load checkpoint, restoring previous")
    state = getattr(checkpoint_info, "state_dict", None)
    if state is not None:
        sd_model.load_state_dict(state)
    if hasattr(checkpoint_info, "calculate_shorthash"):
        sd_model.sd_model_hash = checkpoint_info.calculate_shorthash()
    sd_model.sd_checkpoint_info = checkpoint_info
    sd_model.sd_model_checkpoint = checkpoint_info.filename
    model_data.set_sd_model(sd_model)
    return sd_model


fail_next_reload = None
