"""Mirror of ``modules/processing.py``: the txt2img dataclass fields and process_images' result."""

from dataclasses import dataclass, field
from typing import Any

processed_requests: list = []


@dataclass(repr=False)
class StableDiffusionProcessing:
    cached_uc = [None, None]  # class-level prompt-conditioning caches, as in WebUI
    cached_c = [None, None]
    sd_model: object = None
    outpath_samples: str = None
    outpath_grids: str = None
    prompt: str = ""
    prompt_for_display: str = None
    negative_prompt: str = ""
    styles: list = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0
    seed_resize_from_h: int = -1
    seed_resize_from_w: int = -1
    seed_enable_extras: bool = True
    sampler_name: str = None
    scheduler: str = None
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    restore_faces: bool = None
    tiling: bool = None
    do_not_save_samples: bool = False
    do_not_save_grid: bool = False
    extra_generation_params: dict = None
    overlay_images: list = None
    eta: float = None
    do_not_reload_embeddings: bool = False
    denoising_strength: float = None
    ddim_discretize: str = None
    s_min_uncond: float = None
    s_churn: float = None
    s_tmax: float = None
    s_tmin: float = None
    s_noise: float = None
    override_settings: dict = None
    override_settings_restore_afterwards: bool = True
    sampler_index: int = None
    refiner_checkpoint: str = None
    refiner_switch_at: float = None
    token_merging_ratio = 0
    token_merging_ratio_hr = 0
    disable_extra_networks: bool = False
    firstpass_image: Any = None
    scripts_value: Any = field(default=None, init=False)
    script_args_value: list = field(default=None, init=False)
    scripts_setup_complete: bool = field(default=False, init=False)
    closed: bool = field(default=False, init=False)

    def __post_init__(self):
        self.scripts = object()  # WebUI's UI paths set a ScriptRunner; extensions set None

    def close(self):
        self.closed = True


@dataclass(repr=False)
class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    cached_hr_uc = [None, None]
    cached_hr_c = [None, None]
    enable_hr: bool = False
    denoising_strength: float = 0.75
    firstphase_width: int = 0
    firstphase_height: int = 0
    hr_scale: float = 2.0
    hr_upscaler: str = None
    hr_second_pass_steps: int = 0
    hr_resize_x: int = 0
    hr_resize_y: int = 0
    hr_checkpoint_name: str = None
    hr_sampler_name: str = None
    hr_scheduler: str = None
    hr_prompt: str = ""
    hr_negative_prompt: str = ""
    force_task_id: str = None


class Processed:
    def __init__(self, p, images_list, seed=-1, info="", subseed=None, all_prompts=None, all_negative_prompts=None,
                 all_seeds=None, all_subseeds=None, index_of_first_image=0, infotexts=None, comments=""):
        self.images = images_list
        self.prompt = p.prompt
        self.seed = seed
        self.info = info
        self.infotexts = infotexts or [info] * len(images_list)
        self.index_of_first_image = index_of_first_image


def _lora_hashes(networks_in_prompt):
    """What the built-in Lora's ``activate`` adds: each mentioned name with its file's short hash."""
    import sys

    networks = sys.modules.get("networks")
    hashes = []
    for params in networks_in_prompt.get("lora", []):
        name = params.items[0]
        entry = networks.available_network_aliases.get(name) if networks is not None else None
        if entry is not None:
            entry.read_hash()
            hashes.append(f"{name}: {entry.shorthash}")
    return f', Lora hashes: "{", ".join(hashes)}"' if hashes else ""


def _activate_hypernetworks(p):
    """WebUI's hypernet extra network (``extra_networks_hypernet.activate``): the ``<hypernet:name:m>`` of the
    prompt loaded by name from ``shared.hypernetworks``, and what WebUI could see of the embedding database
    and hypernetwork list at that moment recorded on ``p``."""
    import sys

    from modules import extra_networks, shared

    _, found = extra_networks.parse_prompt(p.prompt)
    params = found.get("hypernet", [])
    hypernetwork = sys.modules.get("modules.hypernetworks.hypernetwork")
    if hypernetwork is not None:
        hypernetwork.load_hypernetworks([x.items[0] for x in params],
                                        [float(x.items[1]) if len(x.items) > 1 else 1.0 for x in params])
        p.seen_loaded_hypernetworks = [(h.name, h.filename, h.layers and next(iter(h.layers.values()))[0].multiplier)
                                       for h in shared.loaded_hypernetworks]
        model = shared.sd_model
        attention = next((m for name, m in model.named_modules() if name.endswith("attn2")), None) if model else None
        for h in shared.loaded_hypernetworks:  # a forward: the layers hang on the attention modules
            width = next(iter(h.layers))
            hypernetwork.apply_single_hypernetwork(h, *(__import__("torch").zeros(1, 1, width),) * 2, attention)
    p.seen_hypernetworks = dict(getattr(shared, "hypernetworks", {}))
    sd_hijack = sys.modules.get("modules.sd_hijack")
    if sd_hijack is not None:
        p.seen_embeddings = dict(sd_hijack.model_hijack.embedding_db.word_embeddings)


def process_images(p):
    from PIL import Image

    from modules import extra_networks

    processed_requests.append(p)
    _activate_hypernetworks(p)
    images = [Image.new("RGB", (p.width, p.height), (p.seed % 256, 0, 0)) for _ in range(p.batch_size * p.n_iter)]
    # As in WebUI 1.10.1: the prompts lose their <lora:…> tags when parsed, and only a processing object
    # with a script runner gets the full prompts back (postprocess_batch) before the infotext is made.
    stripped, found = extra_networks.parse_prompt(p.prompt)
    shown = p.prompt if p.scripts is not None else stripped
    info = (f"{shown}\nSteps: {p.steps}, Sampler: {p.sampler_name}, Seed: {p.seed}, Size: {p.width}x{p.height}"
            + _lora_hashes(found))
    return Processed(p, images, seed=p.seed, info=info)
