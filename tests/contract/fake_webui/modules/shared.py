"""Mirror of ``modules/shared.py``: cmd_opts, opts, state, sd_model and the helpers extensions call."""

import argparse

from modules.options import OptionInfo, Options  # noqa: F401  (shared re-exports OptionInfo)
from modules.shared_state import State

cmd_opts = argparse.Namespace(
    ckpt_dir=None, lora_dir=None, lyco_dir_backcompat=None, embeddings_dir=None, hypernetwork_dir=None,
    vae_dir=None, api_auth=None, data_dir=None, models_dir=None, lowvram=False, medvram=False,
    model_workbench_civitai_url=None,
)
options_templates: dict = {}
opts = Options(options_templates)
state = State()
sd_model = None
refreshed = []


def refresh_checkpoints():
    refreshed.append("checkpoints")


def reload_hypernetworks():
    refreshed.append("hypernetworks")
