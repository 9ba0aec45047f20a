"""Mirror of the parts of ``modules/sd_models.py`` the host reads."""

model_path = "/webui/models/Stable-diffusion"
checkpoints_list: dict = {}
