"""Fake ``shared.sd_model``s. SD1: ``tests/support/tiny_diffusion.TinyLDM`` with the LatentDiffusion
methods and WebUI flags the adapter uses (``encode_first_stage``, ``get_first_stage_encoding``,
``apply_model``, ``parameterization``, ``is_sd1``…), and a text encoder wrapper that, like WebUI's
hijacked ``FrozenCLIPEmbedderWithCustomWords``, takes only the texts and reads clip skip from
``opts.CLIP_stop_at_last_layers``. SDXL: ``tests/support/tiny_sdxl.TinySGM`` behind a conditioner that
behaves like sgm's ``GeneralConditioner`` (no_grad for embedders not marked trainable, size embedders)."""

import contextlib
from types import SimpleNamespace

import torch

from tests.support.tiny_diffusion import CLIPEmbedderWithCustomWords, TinyLDM, timestep_embedding
from tests.support.tiny_sdxl import SIZE_DIM, OpenCLIPEmbedder, TinySGM


class FakeCLIPEmbedderWithCustomWords(CLIPEmbedderWithCustomWords):
    def forward(self, texts):  # type: ignore[override]
        from modules import shared

        return super().forward(list(texts), shared.opts.CLIP_stop_at_last_layers)

    def tokenize(self, texts):
        """Token ids per text (the fake's: one per character), as the hijack's ``tokenize``."""
        return [[ord(c) for c in text] for text in texts]

    def encode_embedding_init_text(self, init_text, nvpt):
        """Token embeddings of ``init_text`` (one row per token), as the hijack's."""
        embedding = self.wrapped.transformer.text_model.embeddings.token_embedding
        ids = torch.tensor([ord(c) % embedding.num_embeddings for c in init_text][:max(nvpt, 1) * 4])
        return embedding.weight[ids].detach()


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


# --- SDXL ------------------------------------------------------------------------------------------
class FakeSDXLCLIPEmbedder(CLIPEmbedderWithCustomWords):
    """WebUI's FrozenCLIPEmbedderForSDXLWithCustomWords: a text embedder of sgm's conditioner."""

    input_key = "txt"
    is_trainable = False
    ucg_rate = 0.0
    legacy_ucg_val = None

    def forward(self, texts):  # type: ignore[override]
        return super().forward(list(texts), 1)


class FakeSDXLOpenCLIPEmbedder2(OpenCLIPEmbedder):
    """WebUI's FrozenOpenCLIPEmbedder2WithCustomWords: hidden states and the pooled output."""

    input_key = "txt"
    is_trainable = False
    ucg_rate = 0.0
    legacy_ucg_val = None

    def forward(self, texts):  # type: ignore[override]
        return super().forward(list(texts), 2)  # SDXL conditions on the penultimate layer


class FakeSizeEmbedder(torch.nn.Module):
    """sgm's ConcatTimestepEmbedderND: (B, 2) sizes → (B, 2 · dim) sinusoidal features."""

    is_trainable = False
    ucg_rate = 0.0
    legacy_ucg_val = None

    def __init__(self, input_key):
        super().__init__()
        self.input_key = input_key

    def forward(self, x):
        return timestep_embedding(x.flatten(), SIZE_DIM).reshape(x.shape[0], -1)


class FakeGeneralConditioner(torch.nn.Module):
    """sgm's GeneralConditioner.forward: an embedder that is not trainable runs under no_grad;
    3-D outputs are concatenated into "crossattn", 2-D ones into "vector"."""

    def __init__(self, embedders):
        super().__init__()
        self.embedders = torch.nn.ModuleList(embedders)
        self.wrapped = torch.nn.Module()  # extend_sdxl adds this

    def forward(self, batch, force_zero_embeddings=None):
        output = {}
        for embedder in self.embedders:
            context = contextlib.nullcontext if embedder.is_trainable else torch.no_grad
            with context():
                out = embedder(batch[embedder.input_key])
            for emb in out if isinstance(out, (list, tuple)) else [out]:
                key, dim = ("crossattn", 2) if emb.dim() == 3 else ("vector", 1)
                output[key] = torch.cat((output[key], emb), dim) if key in output else emb
        return output


class FakeSDXLModel(TinySGM):
    is_sd1 = False
    is_sd2 = False
    is_sdxl = True
    is_ssd = False
    is_sd3 = False
    lowvram = False
    parameterization = "eps"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        te1, te2 = self.conditioner.embedders
        te1.__class__, te2.__class__ = FakeSDXLCLIPEmbedder, FakeSDXLOpenCLIPEmbedder2
        sizes = [FakeSizeEmbedder(k) for k in ("original_size_as_tuple", "crop_coords_top_left", "target_size_as_tuple")]
        self.conditioner = FakeGeneralConditioner([te1, te2, *sizes])
        self.cond_stage_model = self.conditioner
        acp = self._buffers.pop("alphas_cumprod")
        self.alphas_cumprod = acp  # extend_sdxl sets a plain attribute, not a buffer
        self.model.conditioning_key = "crossattn"
        self.sd_checkpoint_info = SimpleNamespace(filename="/webui/models/Stable-diffusion/tiny-xl.safetensors",
                                                  name="tiny-xl.safetensors",
                                                  state_dict={k: v.clone() for k, v in self.state_dict().items()})

    @torch.no_grad()
    def encode_first_stage(self, x):
        return self.first_stage_model.encode(x) * 0.13025  # sgm: already the scaled latent

    def get_first_stage_encoding(self, x):
        return x

    def apply_model(self, x, t, cond):
        return self.model.diffusion_model(x, t, cond["crossattn"], cond["vector"])
