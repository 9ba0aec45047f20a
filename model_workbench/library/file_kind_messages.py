"""The sentences that explain a file's kind (loadable or not, and how sure the guess is)."""

MSG_PEFT_LORA_NOT_LOADABLE = (
    "This LoRA uses diffusers (PEFT) key names, which WebUI 1.10 cannot load (Forge can): convert it to the kohya "
    "format first, for example with kohya's sd-scripts."
)
MSG_FLUX_NOT_LOADABLE = "WebUI 1.10 cannot run Flux models (Forge can), so it cannot load this file."
MSG_DIFFUSERS_FOLDER = "diffusers folder: not a single file WebUI can load"
MSG_DIFFUSERS_VAE = (
    "This VAE uses diffusers key names, which WebUI cannot load: look for a single-file VAE in the same repo."
)
MSG_UNKNOWN_LAYOUT = "The file's tensor names match no model kind WebUI loads."
MSG_PICKLE_WARNING = (
    "Guessed from the file name and size only. This file is a pickle (.ckpt/.pt/.bin), which can run code when "
    "loaded: prefer a .safetensors file where the repo has one."
)
