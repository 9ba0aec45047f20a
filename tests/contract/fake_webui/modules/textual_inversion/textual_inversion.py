"""Mirror of ``modules/textual_inversion/textual_inversion.py`` (v1.10.1): the template list, ``Embedding``,
``EmbeddingDatabase``, ``create_embedding``, ``create_embedding_from_data``, ``validate_train_inputs`` (as
WebUI's) and ``train_embedding`` with WebUI's exact signature. The fake trainer records its arguments and
"trains" by nudging the vectors each step, saving copies and the result where and as WebUI does."""

import datetime
import os
from collections import namedtuple

import torch

from modules import devices, shared

TextualInversionTemplate = namedtuple("TextualInversionTemplate", ["name", "path"])
textual_inversion_templates = {}
train_calls = []  # (args) of each train_embedding call
create_calls = []
fail_at_step = None  # a step where the fake's training "fails" (WebUI reports and swallows the error)


def list_textual_inversion_templates():
    textual_inversion_templates.clear()
    for root, _, fns in os.walk(shared.cmd_opts.textual_inversion_templates_dir):
        for fn in fns:
            path = os.path.join(root, fn)
            textual_inversion_templates[fn] = TextualInversionTemplate(fn, path)
    return textual_inversion_templates


class Embedding:
    def __init__(self, vec, name, step=None):
        self.vec = vec
        self.name = name
        self.step = step
        self.shape = None
        self.vectors = 0
        self.cached_checksum = None
        self.sd_checkpoint = None
        self.sd_checkpoint_name = None
        self.optimizer_state_dict = None
        self.filename = None
        self.hash = None
        self.shorthash = None

    def save(self, filename):
        embedding_data = {
            "string_to_token": {"*": 265},
            "string_to_param": {"*": self.vec},
            "name": self.name,
            "step": self.step,
            "sd_checkpoint": self.sd_checkpoint,
            "sd_checkpoint_name": self.sd_checkpoint_name,
        }
        torch.save(embedding_data, filename)


class DirWithTextualInversionEmbeddings:
    def __init__(self, path):
        self.path = path
        self.mtime = None

    def has_changed(self):
        if not os.path.isdir(self.path):
            return False
        mt = os.path.getmtime(self.path)
        if self.mtime is None or mt > self.mtime:
            return True

    def update(self):
        if not os.path.isdir(self.path):
            return
        self.mtime = os.path.getmtime(self.path)


class EmbeddingDatabase:
    def __init__(self):
        self.ids_lookup = {}
        self.word_embeddings = {}
        self.skipped_embeddings = {}
        self.expected_shape = -1
        self.embedding_dirs = {}
        self.previously_displayed_embeddings = ()

    def add_embedding_dir(self, path):
        self.embedding_dirs[path] = DirWithTextualInversionEmbeddings(path)

    def register_embedding(self, embedding, model):
        return self.register_embedding_by_name(embedding, model, embedding.name)

    def register_embedding_by_name(self, embedding, model, name):
        ids = model.cond_stage_model.tokenize([name])[0]
        first_id = ids[0]
        if first_id not in self.ids_lookup:
            self.ids_lookup[first_id] = []
        if name in self.word_embeddings:
            lookup = [x for x in self.ids_lookup[first_id] if x[1].name != name]
        else:
            lookup = self.ids_lookup[first_id]
        if embedding is not None:
            lookup += [(ids, embedding)]
        self.ids_lookup[first_id] = sorted(lookup, key=lambda x: len(x[0]), reverse=True)
        if embedding is None:
            if name in self.word_embeddings:
                del self.word_embeddings[name]
            if len(self.ids_lookup[first_id]) == 0:
                del self.ids_lookup[first_id]
            return None
        self.word_embeddings[name] = embedding
        return embedding

    def get_expected_shape(self):
        vec = shared.sd_model.cond_stage_model.encode_embedding_init_text(",", 1)
        return vec.shape[1]

    def load_from_file(self, path, filename):
        name, ext = os.path.splitext(filename)
        if ext.upper() not in [".BIN", ".PT"]:
            return
        data = torch.load(path, map_location="cpu")
        embedding = create_embedding_from_data(data, name, filename=filename, filepath=path)
        if self.expected_shape == -1 or self.expected_shape == embedding.shape:
            self.register_embedding(embedding, shared.sd_model)
        else:
            self.skipped_embeddings[name] = embedding

    def load_from_dir(self, embdir):
        if not os.path.isdir(embdir.path):
            return
        for root, _, fns in os.walk(embdir.path, followlinks=True):
            for fn in fns:
                fullfn = os.path.join(root, fn)
                if os.stat(fullfn).st_size == 0:
                    continue
                self.load_from_file(fullfn, fn)

    def load_textual_inversion_embeddings(self, force_reload=False):
        if not force_reload:
            need_reload = any(embdir.has_changed() for embdir in self.embedding_dirs.values())
            if not need_reload:
                return
        self.ids_lookup.clear()
        self.word_embeddings.clear()
        self.skipped_embeddings.clear()
        self.expected_shape = self.get_expected_shape()
        for embdir in self.embedding_dirs.values():
            self.load_from_dir(embdir)
            embdir.update()

    def find_embedding_at_position(self, tokens, offset):
        possible_matches = self.ids_lookup.get(tokens[offset], None)
        if possible_matches is None:
            return None, None
        for ids, embedding in possible_matches:
            if tokens[offset:offset + len(ids)] == ids:
                return embedding, len(ids)
        return None, None


def create_embedding(name, num_vectors_per_token, overwrite_old, init_text='*'):
    create_calls.append((name, num_vectors_per_token, overwrite_old, init_text))
    cond_model = shared.sd_model.cond_stage_model
    embedded = cond_model.encode_embedding_init_text(init_text or '*', num_vectors_per_token)
    vec = torch.zeros((num_vectors_per_token, embedded.shape[1]), device=devices.device)
    if init_text:
        for i in range(num_vectors_per_token):
            vec[i] = embedded[i * int(embedded.shape[0]) // num_vectors_per_token]
    name = "".join(x for x in name if (x.isalnum() or x in "._- "))
    fn = os.path.join(shared.cmd_opts.embeddings_dir, f"{name}.pt")
    if not overwrite_old:
        assert not os.path.exists(fn), f"file {fn} already exists"
    embedding = Embedding(vec, name)
    embedding.step = 0
    embedding.save(fn)
    return fn


def create_embedding_from_data(data, name, filename='unknown embedding file', filepath=None):
    if 'string_to_param' in data:
        param_dict = data['string_to_param']
        assert len(param_dict) == 1, 'embedding file has multiple terms in it'
        emb = next(iter(param_dict.items()))[1]
        vec = emb.detach().to(devices.device, dtype=torch.float32)
        shape = vec.shape[-1]
        vectors = vec.shape[0]
    else:
        raise Exception(f"Couldn't identify {filename} as neither textual inversion embedding nor diffuser concept.")
    embedding = Embedding(vec, name)
    embedding.step = data.get('step', None)
    embedding.sd_checkpoint = data.get('sd_checkpoint', None)
    embedding.sd_checkpoint_name = data.get('sd_checkpoint_name', None)
    embedding.vectors = vectors
    embedding.shape = shape
    if filepath:
        embedding.filename = filepath
    return embedding


def validate_train_inputs(model_name, learn_rate, batch_size, gradient_step, data_root, template_file, template_filename, steps, save_model_every, create_image_every, log_directory, name="embedding"):
    assert model_name, f"{name} not selected"
    assert learn_rate, "Learning rate is empty or 0"
    assert isinstance(batch_size, int), "Batch size must be integer"
    assert batch_size > 0, "Batch size must be positive"
    assert isinstance(gradient_step, int), "Gradient accumulation step must be integer"
    assert gradient_step > 0, "Gradient accumulation step must be positive"
    assert data_root, "Dataset directory is empty"
    assert os.path.isdir(data_root), "Dataset directory doesn't exist"
    assert os.listdir(data_root), "Dataset directory is empty"
    assert template_filename, "Prompt template file not selected"
    assert template_file, f"Prompt template file {template_filename} not found"
    assert os.path.isfile(template_file.path), f"Prompt template file {template_filename} doesn't exist"
    assert steps, "Max steps is empty or 0"
    assert isinstance(steps, int), "Max steps must be integer"
    assert steps > 0, "Max steps must be positive"
    assert isinstance(save_model_every, int), "Save {name} must be integer"
    assert save_model_every >= 0, "Save {name} must be positive or 0"
    assert isinstance(create_image_every, int), "Create image must be integer"
    assert create_image_every >= 0, "Create image must be positive or 0"
    if save_model_every or create_image_every:
        assert log_directory, "Log directory is empty"


def fake_run_folder(job, steps, log_directory, name, save_every, subfolder):
    """What both WebUI trainers do before their loop: the job in ``shared.state``, and the folder the step
    copies go to, ``<log dir>/<date>/<name>/<subfolder>`` (None when no copies are saved)."""
    shared.state.job = job
    shared.state.job_count = steps
    if save_every <= 0:
        return None
    folder = os.path.join(log_directory, datetime.datetime.now().strftime("%Y-%m-%d"), name, subfolder)
    os.makedirs(folder, exist_ok=True)
    return folder


def fake_training_steps(network, steps, save_every, save_dir, name, save, state, on_step=None):
    """The loop both fake trainers share: WebUI's step counting (copies named ``steps_done = step + 1``),
    interrupt check before each step, ``state.job_no`` after it."""
    while network.step < steps:
        if state.interrupted:
            break
        if fail_at_step is not None and network.step == fail_at_step:
            break  # WebUI: errors.report(...) inside the loop's try, then on as if finished
        if on_step is not None:
            on_step()
        network.step += 1
        steps_done = network.step + 1
        if save_dir is not None and steps_done % save_every == 0:
            save(os.path.join(save_dir, f"{name}-{steps_done}.pt"))
        state.job_no = network.step


def train_embedding(id_task, embedding_name, learn_rate, batch_size, gradient_step, data_root, log_directory, training_width, training_height, varsize, steps, clip_grad_mode, clip_grad_value, shuffle_tags, tag_drop_out, latent_sampling_method, use_weight, create_image_every, save_embedding_every, template_filename, save_image_with_stored_embedding, preview_from_txt2img, preview_prompt, preview_negative_prompt, preview_steps, preview_sampler_name, preview_cfg_scale, preview_seed, preview_width, preview_height):
    from modules import sd_hijack

    train_calls.append(dict(locals()))
    save_embedding_every = save_embedding_every or 0
    create_image_every = create_image_every or 0
    template_file = textual_inversion_templates.get(template_filename)
    validate_train_inputs(embedding_name, learn_rate, batch_size, gradient_step, data_root, template_file, template_filename, steps, save_embedding_every, create_image_every, log_directory, name="embedding")
    if ":" not in str(learn_rate):
        try:
            float(learn_rate)
        except ValueError as e:
            raise Exception('Invalid learning rate schedule. It should be a number or, for example, like "0.001:100, 0.00001:1000, 1e-5:10000" to have lr of 0.001 until step 100, 0.00001 until 1000, and 1e-5 until 10000.') from e
    embedding_dir = fake_run_folder("train-embedding", steps, log_directory, embedding_name, save_embedding_every,
                                    "embeddings")
    embedding = sd_hijack.model_hijack.embedding_db.word_embeddings[embedding_name]

    def step():
        with torch.no_grad():
            embedding.vec += 0.01

    def save(path):
        embedding.name = os.path.splitext(os.path.basename(path))[0]
        embedding.save(path)
        embedding.name = embedding_name

    fake_training_steps(embedding, steps, save_embedding_every, embedding_dir, embedding_name, save, shared.state, step)
    filename = os.path.join(shared.cmd_opts.embeddings_dir, f'{embedding_name}.pt')
    embedding.save(filename)
    return embedding, filename
