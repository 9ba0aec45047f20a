"""Mirror of ``modules/images.py: resize_image`` (mode 2 = resize and fill, as DeepBooru uses it)."""

from PIL import Image


def resize_image(resize_mode, im, width, height, upscaler_name=None):
    if resize_mode == 0:
        return im.resize((width, height), Image.LANCZOS)
    ratio = width / height
    src_ratio = im.width / im.height
    if resize_mode == 1:  # crop
        scale = width / im.width if ratio > src_ratio else height / im.height
    else:  # fill
        scale = width / im.width if ratio < src_ratio else height / im.height
    resized = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    canvas = Image.new("RGB", (width, height))
    canvas.paste(resized, ((width - resized.width) // 2, (height - resized.height) // 2))
    return canvas
