"""Download queue: resume, verify by SHA256, atomic install (no gradio, no modules)."""
