"""Mirror of ``modules/interrogate.py: InterrogateModels`` (BLIP caption + CLIP ranking).

``interrogate()`` calls ``shared.state.begin()``/``end()`` itself, as WebUI's does: that is the
behaviour an extension tagging inside its own job must avoid."""

from modules import devices, shared


class InterrogateModels:
    def __init__(self, content_dir=None):
        self.blip_model = None
        self.clip_model = None
        self.loaded = False
        self.calls = []

    def load(self):
        self.calls.append("load")
        self.loaded = True

    def unload(self):
        self.calls.append("unload")
        if not shared.opts.interrogate_keep_models_in_memory:
            self.loaded = False
        devices.torch_gc()

    def generate_caption(self, pil_image):
        assert self.loaded, "BLIP used before load()"
        r, g, b = pil_image.convert("RGB").resize((1, 1)).getpixel((0, 0))
        colour = max((r, "red"), (g, "green"), (b, "blue"))[1]
        return f"a picture of a {colour} square"

    def interrogate(self, pil_image):
        shared.state.begin(job="interrogate")
        try:
            self.load()
            res = self.generate_caption(pil_image) + ", clip ranking"
        finally:
            self.unload()
            shared.state.end()
        return res
