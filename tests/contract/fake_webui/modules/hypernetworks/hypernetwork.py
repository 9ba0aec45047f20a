"""Mirror of ``modules/hypernetworks/hypernetwork.py`` (v1.10.1): ``Hypernetwork`` (save/load of the layer
dict by width), ``list_hypernetworks``, ``load_hypernetwork(s)``, ``apply_single_hypernetwork`` (it hangs
the layers on the attention module, as WebUI's does), ``create_hypernetwork`` and ``train_hypernetwork``
with WebUI's exact signatures. The fake trainer records its arguments."""

import glob
import os

import torch

from modules import devices, shared
from modules.textual_inversion import textual_inversion

train_calls = []
create_calls = []


class HypernetworkModule(torch.nn.Module):
    def __init__(self, dim, state_dict=None):
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)
        if state_dict is not None:
            self.load_state_dict(state_dict)
        self.multiplier = 1.0

    def forward(self, x):
        return x + self.linear(x) * (self.multiplier if not self.training else 1)


class Hypernetwork:
    filename = None
    name = None

    def __init__(self, name=None, enable_sizes=None, layer_structure=None, activation_func=None, weight_init=None, add_layer_norm=False, use_dropout=False, activate_output=False, **kwargs):
        self.filename = None
        self.name = name
        self.layers = {}
        self.step = 0
        self.layer_structure = layer_structure
        self.activation_func = activation_func
        self.weight_init = weight_init
        self.add_layer_norm = add_layer_norm
        self.use_dropout = use_dropout
        self.dropout_structure = kwargs.get('dropout_structure')
        for size in enable_sizes or []:
            self.layers[size] = (HypernetworkModule(size), HypernetworkModule(size))

    def set_multiplier(self, multiplier):
        for layers in self.layers.values():
            for layer in layers:
                layer.multiplier = multiplier
        return self

    def save(self, filename):
        state_dict = {k: (v[0].state_dict(), v[1].state_dict()) for k, v in self.layers.items()}
        state_dict['step'] = self.step
        state_dict['name'] = self.name
        state_dict['layer_structure'] = self.layer_structure
        state_dict['activation_func'] = self.activation_func
        state_dict['is_layer_norm'] = self.add_layer_norm
        state_dict['weight_initialization'] = self.weight_init
        state_dict['use_dropout'] = self.use_dropout
        state_dict['dropout_structure'] = self.dropout_structure
        torch.save(state_dict, filename)

    def load(self, filename):
        self.filename = filename
        if self.name is None:
            self.name = os.path.splitext(os.path.basename(filename))[0]
        state_dict = torch.load(filename, map_location='cpu')
        for size, sd in state_dict.items():
            if type(size) is int:
                self.layers[size] = (HypernetworkModule(size, sd[0]), HypernetworkModule(size, sd[1]))
        self.name = state_dict.get('name', self.name)
        self.step = state_dict.get('step', 0)


def list_hypernetworks(path):
    res = {}
    for filename in sorted(glob.iglob(os.path.join(path, '**/*.pt'), recursive=True), key=str.lower):
        name = os.path.splitext(os.path.basename(filename))[0]
        if name != "None":
            res[name] = filename
    return res


def load_hypernetwork(name):
    path = shared.hypernetworks.get(name, None)
    if path is None:
        return None
    hypernetwork = Hypernetwork()
    hypernetwork.load(path)
    return hypernetwork


def load_hypernetworks(names, multipliers=None):
    already_loaded = {}
    for hypernetwork in shared.loaded_hypernetworks:
        if hypernetwork.name in names:
            already_loaded[hypernetwork.name] = hypernetwork
    shared.loaded_hypernetworks.clear()
    for i, name in enumerate(names):
        hypernetwork = already_loaded.get(name)
        if hypernetwork is None:
            hypernetwork = load_hypernetwork(name)
        if hypernetwork is None:
            continue
        hypernetwork.set_multiplier(multipliers[i] if multipliers else 1.0)
        shared.loaded_hypernetworks.append(hypernetwork)


def apply_single_hypernetwork(hypernetwork, context_k, context_v, layer=None):
    hypernetwork_layers = (hypernetwork.layers if hypernetwork is not None else {}).get(context_k.shape[2], None)
    if hypernetwork_layers is None:
        return context_k, context_v
    if layer is not None:
        layer.hyper_k = hypernetwork_layers[0]
        layer.hyper_v = hypernetwork_layers[1]
    return hypernetwork_layers[0](context_k), hypernetwork_layers[1](context_v)


def create_hypernetwork(name, enable_sizes, overwrite_old, layer_structure=None, activation_func=None, weight_init=None, add_layer_norm=False, use_dropout=False, dropout_structure=None):
    create_calls.append(dict(locals()))
    name = "".join(x for x in name if (x.isalnum() or x in "._- "))
    assert name, "Name cannot be empty!"
    fn = os.path.join(shared.cmd_opts.hypernetwork_dir, f"{name}.pt")
    if not overwrite_old:
        assert not os.path.exists(fn), f"file {fn} already exists"
    if type(layer_structure) is str:
        layer_structure = [float(x.strip()) for x in layer_structure.split(",")]
    if use_dropout and dropout_structure and type(dropout_structure) is str:
        dropout_structure = [float(x.strip()) for x in dropout_structure.split(",")]
    else:
        dropout_structure = [0] * len(layer_structure)
    hypernet = Hypernetwork(name=name, enable_sizes=[int(x) for x in enable_sizes], layer_structure=layer_structure,
                            activation_func=activation_func, weight_init=weight_init, add_layer_norm=add_layer_norm,
                            use_dropout=use_dropout, dropout_structure=dropout_structure)
    hypernet.save(fn)
    shared.reload_hypernetworks()


def train_hypernetwork(id_task, hypernetwork_name: str, learn_rate: float, batch_size: int, gradient_step: int, data_root: str, log_directory: str, training_width: int, training_height: int, varsize: bool, steps: int, clip_grad_mode: str, clip_grad_value: float, shuffle_tags: bool, tag_drop_out: bool, latent_sampling_method: str, use_weight: bool, create_image_every: int, save_hypernetwork_every: int, template_filename: str, preview_from_txt2img: bool, preview_prompt: str, preview_negative_prompt: str, preview_steps: int, preview_sampler_name: str, preview_cfg_scale: float, preview_seed: int, preview_width: int, preview_height: int):
    train_calls.append(dict(locals()))
    save_hypernetwork_every = save_hypernetwork_every or 0
    create_image_every = create_image_every or 0
    template_file = textual_inversion.textual_inversion_templates.get(template_filename, None)
    textual_inversion.validate_train_inputs(hypernetwork_name, learn_rate, batch_size, gradient_step, data_root, template_file, template_filename, steps, save_hypernetwork_every, create_image_every, log_directory, name="hypernetwork")
    path = shared.hypernetworks.get(hypernetwork_name, None)
    hypernetwork = Hypernetwork()
    hypernetwork.load(path)
    shared.loaded_hypernetworks = [hypernetwork]
    hypernetwork_dir = textual_inversion.fake_run_folder("train-hypernetwork", steps, log_directory, hypernetwork_name,
                                                         save_hypernetwork_every, "hypernetworks")
    model = shared.sd_model
    attention = next(m for name, m in model.named_modules() if name.endswith("attn2"))

    def step():
        with torch.no_grad():
            for layers in hypernetwork.layers.values():
                for layer in layers:
                    layer.linear.bias += 0.01
        # a training forward: the layers hang on the attention module; the loss reaches the model's weights
        width = next(iter(hypernetwork.layers))
        apply_single_hypernetwork(hypernetwork, torch.zeros(1, 1, width), torch.zeros(1, 1, width), attention)
        weight = next(model.parameters())
        if weight.requires_grad:
            weight.sum().backward()

    fake_training_steps = textual_inversion.fake_training_steps
    fake_training_steps(hypernetwork, steps, save_hypernetwork_every, hypernetwork_dir, hypernetwork_name,
                        hypernetwork.save, shared.state, step)
    filename = os.path.join(shared.cmd_opts.hypernetwork_dir, f'{hypernetwork_name}.pt')
    hypernetwork.save(filename)
    shared.sd_model.cond_stage_model.to(devices.device)
    return hypernetwork, filename
