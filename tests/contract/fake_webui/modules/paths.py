"""Mirror of ``modules/paths.py`` (values are set by the ``fake_webui`` fixture)."""

script_path = "/webui"
data_path = "/webui"
models_path = "/webui/models"
