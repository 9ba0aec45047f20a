"""The API key the fake Civitai server expects in the shared fixtures (``tests/unit/conftest.py``)."""

KEY = "test-key"
