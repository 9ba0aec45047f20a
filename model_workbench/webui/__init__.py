"""The only code that imports WebUI's ``modules``: A1111 and Forge hosts, callbacks, settings, routes.

Training on the loaded checkpoint lives in ``trainable.py`` (the model as a ``TrainableModel``),
``model_guard.py`` + ``fingerprint.py`` (the model is exactly as before afterwards), ``tagging.py``
(DeepBooru / BLIP) and ``lora_check.py`` (WebUI's Lora loader on a file); see docs/webui-training.md.
"""
