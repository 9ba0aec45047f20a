"""Hugging Face Hub as a second model source, through any mirror (no gradio, no ``modules``).

The Hub's HTTP API is called at the endpoint the user set (empty: https://huggingface.co;
https://hf-mirror.com and other mirrors work the same), with the token sent only to that endpoint,
never to the storage origin a ``resolve`` URL redirects to. See ``types`` for what the package hands
to the UI and the download engine.
"""
