"""Every user-facing message of the preview package, in one place so the UI layer can localise them.

Each message is a plain sentence that tells the user what to change. They are ``str.format``
templates; callers fill them with keyword arguments.
"""

from __future__ import annotations

# Weight lists ("0.6, 0.8, 1.0", "0.2-1.0:0.2", "0.2-1.0 (5)").
WEIGHTS_EMPTY = "Enter at least one LoRA weight, for example 0.6, 0.8, 1.0."
WEIGHT_NOT_A_NUMBER = (
    "'{item}' is not a weight. Write numbers separated by commas (0.6, 0.8, 1.0) "
    "or a range such as 0.2-1.0:0.2 or 0.2-1.0 (5)."
)
WEIGHT_NOT_FINITE = "'{item}' is not a finite number. Use ordinary numbers such as 0.8."
WEIGHT_STEP_ZERO = "The step in '{item}' is zero. Use a step such as 0.2, or a count such as (5)."
WEIGHT_STEP_DIRECTION = (
    "The step in '{item}' points away from the end of the range. Use a {sign} step to go from {start} to {end}."
)
WEIGHT_AMBIGUOUS_PAREN = (
    "'{item}' is unclear: write ({count}) for a count of weights, or (+{step}) for a step, as WebUI's X/Y/Z plot does."
)
WEIGHT_COUNT_TOO_SMALL = "The count in '{item}' must be at least 1."
WEIGHTS_TOO_MANY = "That list makes {count} weights; a preview takes at most {limit}. Use a larger step or fewer values."

# Requests and plans.
LORA_NAME_INVALID = (
    "The LoRA name '{name}' cannot go into a prompt: it must not be empty or contain ':', '<' or '>'."
)
PLAN_NO_CHECKPOINTS = "Pick at least one checkpoint to preview."
PLAN_NO_PROMPTS = "Enter a prompt to preview with."
PLAN_DUPLICATE_LORA_NAME = (
    "Two checkpoints would load under the same LoRA name '{name}'. Each checkpoint needs its own file name."
)
PLAN_BAD_SIZE = "The image size {width}x{height} is not valid; width and height must be multiples of 8."
PLAN_BAD_STEPS = "Sampling steps must be at least 1 (got {steps})."
PLAN_BAD_BATCH = "The batch grid size must be between 1 and {limit} (got {n})."
PLAN_NO_VERSIONS = "Pick at least two versions to compare."

# Rendering.
RENDER_INTERRUPTED = "The grid was interrupted; {done} of {total} cells were rendered and the rest are marked missing."
RENDER_CELL_FAILED = "The cell '{label}' failed: {error}"
RENDER_BAD_RESULT = "The renderer returned no image for the cell '{label}'."

# Grid images.
GRID_NOTHING_TO_DRAW = "There are no cells to draw."
GRID_MISSING_LABEL = "missing"
GRID_FAILED_LABEL = "failed"
COMPARE_NOTHING = "There are no versions to put side by side."
COMPARE_SKIPPED = "Version '{version}' was not rendered because the comparison stopped before it."
