"""A fake ``shared.sd_model`` for SD1: ``tests/support/tiny_diffusion.TinyLDM`` with the LatentDiffusion
methods and WebUI flags the adapter uses (``encode_first_stage``, ``get_first_stage_encoding``,
``apply_model``, ``parameterization``, ``is_sd1``…), and a text encoder wrapper that, like WebUI's
hijacked ``FrozenCLIPEmbedderWithCustomWords``, takes only the texts and reads clip skip from
``opts.CLIP_stop_at_last_layers``."""

from types import SimpleNamespace

import torch

from tests.support.tiny_diffusion import CLIPEmbedderWithCustomWords, TinyLDM


class FakeCLIPEmbedderWithCustomWords(CLIPEmbedderWithCustomWords):
    def forward(self, texts):  # type: ignore[override]
        from modules import shared

        return super().forward(list(texts), shared.opts.CLIP_stop_at_last_layers)


class FakeDiagonalGaussian:
    """ldm's DiagonalGaussianDistribution with a zero variance: sample() is the mean."""

    def __init__(self, mean):
        self.mean = mean

    def sample(self):
        return self.mean


class FakeSD1Model(TinyLDM):
    is_sd1 = True
    is_sd2 = False
    is_sdxl = False
    is_ssd = False
    is_sd3 = False
    lowvram = False
    parameterization = "eps"
    num_timesteps = 1000

    def __init__(self, seed: int = 0, filename: str = "/webui/models/Stable-diffusion/tiny.safetensors") -> None:
        super().__init__(seed)
        self.cond_stage_model.__class__ = FakeCLIPEmbedderWithCustomWords
        self.model.conditioning_key = "crossattn"
        self.scale_factor = 0.5
        self.sd_checkpoint_info = SimpleNamespace(
            filename=filename, name="tiny.safetensors",
            state_dict={k: v.clone() for k, v in self.state_dict().items()},  # "the file", for reloads
        )
        self.sd_model_checkpoint = filename

    @torch.no_grad()
    def encode_first_stage(self, x):
        return FakeDiagonalGaussian(self.first_stage_model.encode(x))

    def get_first_stage_encoding(self, encoder_posterior):
        return self.scale_factor * encoder_posterior.sample()

    def apply_model(self, x_noisy, t, cond, return_ids=False):
        if not isinstance(cond, dict):
            cond = {"c_crossattn": cond if isinstance(cond, list) else [cond]}
        return self.model.diffusion_model(x_noisy, t, torch.cat(cond["c_crossattn"], 1))
