"""Mirror of Forge's ``modules_forge/main_entry.py``: what its checkpoint dropdown calls."""

from modules import sd_models, shared

refreshes = []


def refresh_model_loading_parameters():
    from modules.sd_models import model_data, select_checkpoint

    checkpoint_info = select_checkpoint()
    model_data.forge_loading_parameters = dict(checkpoint_info=checkpoint_info, additional_modules=[],
                                               unet_storage_dtype=None)
    refreshes.append(checkpoint_info)


def checkpoint_change(ckpt_name: str, save=True, refresh=True):
    """ checkpoint name can be a number of valid aliases. Returns True if checkpoint changed. """
    new_ckpt_info = sd_models.get_closet_checkpoint_match(ckpt_name)
    current_ckpt_info = sd_models.get_closet_checkpoint_match(shared.opts.data.get("sd_model_checkpoint", ""))
    if new_ckpt_info == current_ckpt_info:
        return False
    shared.opts.set("sd_model_checkpoint", ckpt_name)
    if save:
        shared.opts.save(shared.config_filename)
    if refresh:
        refresh_model_loading_parameters()
    return True
