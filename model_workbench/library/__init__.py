"""Model folders per type, scanning, hashing with a cache, sidecar files (no gradio, no modules)."""
