"""User-facing messages of the training package, in one place so the UI can localise them."""

CONV_DIM_NEGATIVE = "The convolution rank (conv_dim) must not be negative; 0 or empty leaves the 3×3 convolutions out."
CONV_ALPHA_NEGATIVE = "The convolution alpha (conv_alpha) must not be negative."
OPTIMIZER_UNKNOWN = "The optimizer {name!r} is not one this trainer has; choose one of: {choices}."
OPTIMIZER_NEEDS_BITSANDBYTES = (
    "The AdamW8bit optimizer needs the bitsandbytes package, which is not installed; install bitsandbytes "
    "or choose AdamW or Lion."
)
BAD_RESOLUTION = "The resolution {value!r} is not understood; write one number such as 512, or width,height such as 512,768."

# Dataset problems, reported per file (the image is skipped unless the text says it was converted).
IMAGE_CORRUPT = "{name}: the file is damaged or cut short and was skipped."
IMAGE_NOT_AN_IMAGE = "{name}: this is not an image file and was skipped."
IMAGE_TOO_SMALL = "{name}: the image is {width}×{height}, smaller than the {minimum} px minimum, and was skipped."
IMAGE_TOO_LARGE = "{name}: the image is {width}×{height} ({megapixels:.0f} MP), larger than the {limit} MP limit, and was skipped."
IMAGE_BOMB = "{name}: the image is too large to open safely and was skipped."
IMAGE_CMYK = "{name}: the CMYK image was converted to RGB; check its colours."
IMAGE_16BIT = "{name}: the 16-bit image was converted to 8 bits per channel."
IMAGE_ALPHA = "{name}: the transparent areas were filled with white."
CAPTION_UNREADABLE = "{name}: the caption file could not be read as UTF-8 text; the folder's concept name is used instead."
FOLDER_IGNORED = "{name}: the folder name does not start with a repeat count such as 10_concept, so it was ignored."
NO_IMAGES = "No usable images were found in {folder}; add <repeats>_<concept> folders with images."

# Training
NOTHING_TO_TRAIN = "No LoRA modules were created: the model has no trainable targets for the parts you enabled."
INTERRUPTED = "Training was interrupted after step {step}; the last saved checkpoint is {checkpoint}."
V_PARAM_MISMATCH = (
    "The loaded model predicts {model} but v_parameterization is {setting}; "
    "set v_parameterization to match the model."
)
NO_CHECKPOINT_TO_RESUME = "There is no saved training state in {folder} to resume from."
RESUME_MISMATCH = "The saved training state in {folder} was made with different settings ({what}); start a new run instead."
FP16_ON_CPU = "Mixed precision {precision} needs a GPU; the CPU trains in fp32."
LOSS_NOT_FINITE = (
    "Training stopped at step {step} (epoch {epoch}): the loss is no longer a number (NaN or infinite), so the "
    "LoRA has diverged. Lower the learning rate (for example to a tenth) and start again; the checkpoints of "
    "earlier epochs are kept."
)
WEIGHTS_NOT_FINITE = (
    "Training stopped after step {step} (epoch {epoch}): the LoRA's weights became NaN or infinite, so it has "
    "diverged. Lower the learning rate (for example to a tenth) and start again; the checkpoints of earlier "
    "epochs are kept."
)

# Continuing from a LoRA file (network_weights)
NETWORK_WEIGHTS_UNREADABLE = (
    "The LoRA file {name} to continue from cannot be read: it is missing, or not a LoRA file in safetensors or "
    "PyTorch format."
)
NETWORK_WEIGHTS_SHAPE = (
    "The LoRA file {name} does not fit this version's network: {key} is {file_shape} in the file but {shape} here. "
    "Use the rank (network_dim), convolution rank (conv_dim) and trained parts the file was made with."
)
NETWORK_WEIGHTS_EXTRA = (
    "The LoRA file {name} does not fit this version's network: it has {key}, which this network does not have. "
    "Use the convolution rank (conv_dim) and trained parts the file was made with, and a base model of its family."
)
NETWORK_WEIGHTS_MISSING = (
    "The LoRA file {name} does not fit this version's network: it has no {key}, which this network needs. "
    "Use the convolution rank (conv_dim) and trained parts the file was made with (a learning rate of 0 leaves a "
    "part out)."
)
NETWORK_WEIGHTS_ALPHA = (
    "The LoRA file {name} was made with alpha {file_alpha} for {key}, but this version uses {alpha}; set the "
    "network alpha (or the convolution alpha) to the file's."
)
