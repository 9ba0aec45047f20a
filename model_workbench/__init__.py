"""Model Workbench: find, install, train and compare Stable Diffusion models.

The package is split so that the core (civitai, library, downloads, training, preview)
imports neither gradio nor WebUI's ``modules``; ``ui`` adds gradio and only ``webui``
touches WebUI itself. ``tests/unit/test_dependency_rules.py`` enforces this.
"""

__version__ = "0.1.0"
