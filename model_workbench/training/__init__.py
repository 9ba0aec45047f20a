"""In-process kohya-compatible LoRA training (torch; no gradio, no modules)."""
