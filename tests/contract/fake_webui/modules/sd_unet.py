"""Mirror of ``modules/sd_unet.py``: the alternative UNet in use (TensorRT and the like), None by default."""

current_unet_option = None
current_unet = None
