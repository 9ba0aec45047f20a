"""Every user-facing sentence of the WebUI adapter's training, tagging and LoRA-check code."""

NO_MODEL_FOR_PREVIEW = "No checkpoint is loaded in WebUI. Choose one at the top of the page."
STOPPED_BEFORE_IMAGE = "Stopped before the image was generated."
NO_MODEL = "No checkpoint is loaded in WebUI. Choose one at the top of the page, then start training again."
LDM_PATCHED = (
    "Training is not offered on {name}: its model engine (ldm_patched) has not been proven with the trainer "
    "yet. Previews and grids of existing checkpoints work here; train on Forge or AUTOMATIC1111 WebUI 1.10."
)
NO_WEBUI_TRAINERS = "{name} has no Textual Inversion or hypernetwork training of its own."
LORA_TRAINING_HERE = "LoRA training runs here on the loaded checkpoint (SD 1.x, SD 2.x, SDXL)."
FORGE_QUANTIZED = (
    "Training is not possible while Forge stores the UNet as {dtype}: quantized weights cannot take gradients. "
    "Set 'Diffusion in Low Bits' to Automatic (or a 16-bit mode) at the top of the page, then train."
)
FORGE_SWAPPED = (
    "Forge keeps part of the model in CPU memory (not enough free VRAM to hold it all), and training needs the "
    "whole model on the GPU. Raise 'GPU Weights' at the top of the page or free VRAM, then train again."
)
LOW_VRAM = (
    "Training is not possible while WebUI runs with {flag}: it moves parts of the model on and off the GPU "
    "during every step, which the trainer cannot work with. Restart WebUI without {flag} to train."
)
FP8 = (
    "Training is not possible while the model's weights are stored in FP8 (Settings → Optimizations → "
    "FP8 weight). Turn FP8 weight off, reload the checkpoint, then train."
)
UNKNOWN_FAMILY = (
    "The loaded checkpoint is not SD 1.x, SD 2.x or SDXL, so the trainer cannot train a LoRA for it. "
    "Load one of those checkpoints to train."
)
INPAINTING = (
    "The loaded checkpoint is an inpainting or instruct model (conditioning '{key}'); LoRA training "
    "needs an ordinary text-to-image checkpoint. Load one to train."
)
ALTERNATIVE_UNET = (
    "An alternative UNet ({name}) replaces the checkpoint's UNet (Settings → SD UNet). Set it to "
    "'Automatic' or 'None' to train."
)
MODEL_CHANGED = (
    "The loaded model's weights differ from before training ({count} tensors, e.g. {examples}) and "
    "reloading the checkpoint did not fix it. Reload the checkpoint (pick it again at the top of the page) "
    "before generating."
)
MODEL_RELOADED = (
    "The loaded model's weights differed after training ({count} tensors, e.g. {examples}); the checkpoint "
    "was reloaded from its file and now matches again."
)
TAG_METHOD = "Unknown tagging method {method!r}; use 'deepbooru' or 'blip'."
TAG_FAILED = (
    "WebUI's {what} could not tag the image ({error}). WebUI downloads its model on first use; "
    "check the console and the internet connection, or put the model file in {folder}."
)
TAG_UNAVAILABLE = "WebUI's {what} is not available in this WebUI, so images cannot be tagged with it."
LORA_NO_FILE = "There is no LoRA file at {path}."
LORA_NO_LOADER = "WebUI's built-in Lora extension is not loaded, so the file cannot be checked."
CHECKPOINT_FROZEN = (
    "WebUI does not let its checkpoint setting change ({reason}), so the base model cannot be switched here. "
    "Start WebUI without the frozen settings, or train on the loaded checkpoint."
)
# WebUI's own embedding / hypernetwork trainers (webui_trainers.py, webui_snapshots.py).
TRAINERS_REMOVED = (
    "{name} removed WebUI's own embedding and hypernetwork training. Train embeddings and hypernetworks in "
    "AUTOMATIC1111 WebUI 1.10, or train a LoRA here."
)
TRAINERS_SD1_SD2 = (
    "WebUI's embedding and hypernetwork trainers work on SD 1.x and SD 2.x checkpoints only, and the loaded "
    "one is {family}. Load an SD 1.x or SD 2.x checkpoint to train, or train a LoRA."
)
TRAINERS_LOW_VRAM = (
    "WebUI's embedding and hypernetwork trainers do not run while WebUI runs with --lowvram. Restart WebUI "
    "without it to train."
)
HYPERNET_PREVIEW_UNSUPPORTED = (
    "{name} no longer applies hypernetworks when it generates images, so hypernetwork steps cannot be "
    "previewed here."
)
EMBEDDING_PREVIEW_UNSUPPORTED = (
    "{name} loads embeddings only from its embeddings folder, so embedding steps cannot be previewed here; "
    "publish a step to try it."
)
NETWORK_NAME_EMPTY = (
    "The name must contain a letter or a digit: WebUI keeps only letters, digits, spaces, dots, dashes and "
    "underscores of it."
)
TEMPLATE_MISSING = (
    "WebUI has no prompt template named {name}. Pick one of the templates in WebUI's "
    "textual_inversion_templates folder."
)
DATASET_EMPTY = "The dataset folder is empty or missing; add images with captions before training."
CLIP_GRAD_INVALID = (
    "The gradient clipping value {text!r} is not understood: write a number such as 0.1, or a schedule such as "
    "0.1:100, 0.05 (a value until a step, the last value to the end)."
)
TRAINER_REFUSED = "WebUI's trainer refused the settings: {reason}."
TRAINER_FAILED = (
    "WebUI's trainer stopped after {done} of {total} steps without being interrupted. WebUI's console "
    "shows the error."
)
TRAINER_STEP = "Step {done} of {total}"
EMBEDDING_SHAPE = (
    "The embedding {name} was trained for another kind of checkpoint (its vectors have {found} values, the "
    "loaded checkpoint needs {expected}). Load the checkpoint it was trained on."
)
NETWORK_FILE_MISSING = "There is no file at {path}."
EMBEDDING_UNREADABLE = (
    "WebUI could not read back the embedding it had just created (its console says why; a PyTorch newer than "
    "this WebUI expects writes files its safety check refuses), so it cannot train it."
)
