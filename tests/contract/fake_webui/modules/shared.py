"""Mirror of ``modules/shared.py``: cmd_opts, opts, state, sd_model and the helpers extensions call."""

import argparse
import os

from modules.options import OptionInfo, Options  # noqa: F401  (shared re-exports OptionInfo)
from modules.shared_state import State

cmd_opts = argparse.Namespace(
    ckpt_dir=None, lora_dir=None, lyco_dir_backcompat=None, embeddings_dir=None, hypernetwork_dir=None,
    vae_dir=None, api_auth=None, data_dir=None, models_dir=None, lowvram=False, medvram=False,
    medvram_sdxl=False, no_half=True, model_workbench_civitai_url=None,
    # WebUI's default (cmd_args.py): the templates folder beside its scripts, always set.
    textual_inversion_templates_dir=os.path.join(os.path.dirname(os.path.dirname(__file__)),
                                                 "textual_inversion_templates"),
)
# A few of WebUI's own options (shared_options.py) with their real defaults.
options_templates: dict = {
    "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint", section=("sd", "Stable Diffusion"),
                                      infotext="Model hash"),
    "CLIP_stop_at_last_layers": OptionInfo(1, "Clip skip", section=("sd", "Stable Diffusion")),
    "interrogate_keep_models_in_memory": OptionInfo(False, "Keep models in VRAM", section=("interrogate", "Interrogate")),
    "interrogate_deepbooru_score_threshold": OptionInfo(0.5, "deepbooru: score threshold", section=("interrogate", "Interrogate")),
    "deepbooru_use_spaces": OptionInfo(True, "deepbooru: use spaces", section=("interrogate", "Interrogate")),
    "deepbooru_filter_tags": OptionInfo("", "deepbooru: filter out those tags", section=("interrogate", "Interrogate")),
    "lora_functional": OptionInfo(False, "Lora: use old method", section=("extra_networks", "Extra Networks")),
}
opts = Options(options_templates)
config_filename = "config.json"  # the fixture points it at the test's WebUI folder
state = State()
sd_model = None
loaded_hypernetworks: list = []
hypernetworks: dict = {}  # name → path, listed from cmd_opts.hypernetwork_dir
parallel_processing_allowed = True
interrogator = None  # set by the fixture to an interrogate.InterrogateModels, as initialize does
refreshed = []


def refresh_checkpoints():
    refreshed.append("checkpoints")


def reload_hypernetworks():
    """shared_items.reload_hypernetworks: the list rebuilt from ``cmd_opts.hypernetwork_dir``."""
    global hypernetworks
    refreshed.append("hypernetworks")
    if cmd_opts.hypernetwork_dir:
        from modules.hypernetworks import hypernetwork

        hypernetworks = hypernetwork.list_hypernetworks(cmd_opts.hypernetwork_dir)
