"""Mirror of the parts of ``modules/sd_models.py`` the host reads."""

model_path = "/webui/models/Stable-diffusion"
checkpoints_list: dict = {}


def read_state_dict(checkpoint_file, print_global_state=False, map_location=None):
    import safetensors.torch
    import torch

    if checkpoint_file.lower().endswith(".safetensors"):
        return safetensors.torch.load_file(checkpoint_file, device=map_location or "cpu")
    return torch.load(checkpoint_file, map_location=map_location or "cpu")


reloads = []


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    """Reloads the weights from "the file": the fake checkpoint info keeps the state it was built with."""
    from modules import shared

    sd_model = sd_model or shared.sd_model
    info = info or sd_model.sd_checkpoint_info
    reloads.append((info, forced_reload))
    sd_model.load_state_dict(info.state_dict)
    return sd_model
