"""Civitai REST API client and tolerant response parsing (no gradio, no modules)."""
