"""Mirror of ``modules/deepbooru.py``: ``model = DeepDanbooru()`` with load/start/stop/tag/tag_multi.

The network is a fake: each tag's probability is a fixed function of the image's mean colour, so
tests know which tags pass which threshold. ``tag_multi`` reads the global threshold option, as
WebUI's does."""

import numpy as np
import torch

from modules import devices, images, shared


class FakeDeepDanbooruModel(torch.nn.Module):
    tags = ["red", "green", "blue", "rating:safe", "bright_colour"]

    def forward(self, x):  # x: (B, 512, 512, 3) in [0, 1], as WebUI feeds it
        mean = x.mean(dim=(1, 2))  # (B, 3)
        return torch.stack([mean[:, 0], mean[:, 1], mean[:, 2], torch.ones_like(mean[:, 0]), mean.mean(dim=1)], dim=1)


class DeepDanbooru:
    def __init__(self):
        self.model = None
        self.calls = []

    def load(self):
        if self.model is None:
            self.model = FakeDeepDanbooruModel().eval()

    def start(self):
        self.calls.append("start")
        self.load()
        self.model.to(devices.device)

    def stop(self):
        self.calls.append("stop")
        if not shared.opts.interrogate_keep_models_in_memory:
            self.model.to(devices.cpu)
            devices.torch_gc()

    def tag(self, pil_image):
        self.start()
        res = self.tag_multi(pil_image)
        self.stop()
        return res

    def tag_multi(self, pil_image, force_disable_ranks=False):
        threshold = shared.opts.interrogate_deepbooru_score_threshold
        pic = images.resize_image(2, pil_image.convert("RGB"), 512, 512)
        a = np.expand_dims(np.array(pic, dtype=np.float32), 0) / 255
        with torch.no_grad(), devices.autocast():
            y = self.model(torch.from_numpy(a).to(devices.device, devices.dtype))[0].numpy()
        tags = [t for t, p in sorted(zip(self.model.tags, y, strict=False), key=lambda x: -x[1]) if p >= threshold and not t.startswith("rating:")]
        return ", ".join(t.replace("_", " ") if shared.opts.deepbooru_use_spaces else t for t in tags)


model = DeepDanbooru()
