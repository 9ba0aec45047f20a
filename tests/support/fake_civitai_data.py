"""Catalogue of the fake Civitai server: the recorded samples plus synthesised variants.

Recorded samples come from ``tests/data/civitai-samples/`` unchanged; synthesised models cover the
variants no recording shows (Archived, TakenDown, the empty-``modelVersions`` glitch, and one
"quirky" model with every odd field form). URLs inside are written for ``https://civitai.com``
and rewritten to the fake server's own origin when served.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "data" / "civitai-samples"

ARCHIVED_MODEL_ID, ARCHIVED_VERSION_ID = 900001, 900011
TAKEN_DOWN_MODEL_ID, TAKEN_DOWN_VERSION_ID = 900002, 900021
GLITCH_MODEL_ID, GLITCH_VERSION_IDS = 900003, (900032, 900031)
QUIRKY_MODEL_ID, QUIRKY_VERSION_ID = 900004, 900041

ENUMS = {
    "ModelType": ["Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA",
                  "Controlnet", "Upscaler", "MotionModule", "VAE", "Poses", "Wildcards", "Workflows", "Detection", "Other"],
    "ModelFileType": ["Model", "Text Encoder", "Pruned Model", "Negative", "Training Data", "VAE", "Config", "Archive"],
    "ActiveBaseModel": ["SD 1.5", "SDXL 1.0", "Pony", "Illustrious", "Flux.1 D", "Flux.1 S", "Other"],
    "BaseModel": ["SD 1.4", "SD 1.5", "SD 2.1", "SDXL 1.0", "Pony", "Illustrious", "Flux.1 D", "Flux.1 S", "Other"],
    "BaseModelType": ["Standard", "Inpainting", "Refiner", "Pix2Pix"],
}

TAGS = [{"name": n, "link": f"https://civitai.com/api/v1/models?tag={n}"} for n in ("style", "character", "anime", "photorealistic")]


def sample(name_prefix: str) -> object:
    path = next(SAMPLES_DIR.glob(name_prefix + "*.json"))
    return json.loads(path.read_text(encoding="utf-8"))


def _image(n: int, *, level: object = 1, kind: str = "image", ext: str = "jpeg", z: bool = True) -> dict:
    return {"id": 7000000 + n, "url": f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/fake-{n:04d}/width=450/{7000000 + n}.{ext}",
            "nsfwLevel": level, "width": 512, "height": 768, "hash": "U5IiO6s-4Vn+0~EO^5xa00VsL#IU_O?E7yWC", "type": kind}


def _file(file_id: int, name: str, *, hashes: dict | None, primary: object = True, meta: dict | None = None,
          version_id: int = 0) -> dict:
    f = {"id": file_id, "sizeKB": 1024.5, "name": name, "type": "Model",
         "metadata": meta if meta is not None else {"format": "SafeTensor", "size": "pruned", "fp": "fp16"},
         "pickleScanResult": "Success", "virusScanResult": "Success", "scannedAt": "2024-01-01T00:00:00.000Z",
         "downloadUrl": f"https://civitai.com/api/download/models/{version_id}"}
    if hashes is not None:
        f["hashes"] = hashes
    if primary is not None:
        f["primary"] = primary
    return f


def _version(version_id: int, model_id: int, name: str, *, files: list, images: list, published: str,
             base: str = "SD 1.5", download: bool = True) -> dict:
    v = {"id": version_id, "modelId": model_id, "name": name, "index": 0, "baseModel": base, "baseModelType": "Standard",
         "createdAt": "2024-03-01T10:00:00.000Z", "publishedAt": published, "status": "Published",
         "availability": "Public", "nsfwLevel": 1, "trainedWords": ["fakeword"], "description": "<p>Version notes.</p>",
         "stats": {"downloadCount": 10, "thumbsUpCount": 2}, "files": files, "images": images}
    if download:
        v["downloadUrl"] = f"https://civitai.com/api/download/models/{version_id}"
    return v


def _model(model_id: int, name: str, versions: list, **extra: object) -> dict:
    m = {"id": model_id, "name": name, "description": "<p>A synthesised model for tests.</p>", "type": "LORA",
         "poi": False, "nsfw": False, "nsfwLevel": 1, "allowNoCredit": True, "allowCommercialUse": ["Image"],
         "allowDerivatives": True, "allowDifferentLicense": True,
         "stats": {"downloadCount": 5, "thumbsUpCount": 1, "commentCount": 0},
         "creator": {"username": "fakecreator", "image": None}, "tags": ["style"], "modelVersions": versions}
    m.update(extra)
    return m


def synthesised_models() -> list[dict]:
    sha = "A" * 64
    archived = _model(ARCHIVED_MODEL_ID, "Archived Model", [
        _version(ARCHIVED_VERSION_ID, ARCHIVED_MODEL_ID, "v1", files=[], images=[_image(1)],
                 published="2024-02-01T00:00:00.000Z", download=False)], mode="Archived")
    taken = _model(TAKEN_DOWN_MODEL_ID, "Taken Down Model", [
        _version(TAKEN_DOWN_VERSION_ID, TAKEN_DOWN_MODEL_ID, "v1", files=[], images=[],
                 published="2024-02-01T00:00:00.000Z", download=False)], mode="TakenDown")
    glitch_versions = [
        _version(vid, GLITCH_MODEL_ID, f"v{i + 1}", images=[_image(10 + i)], published=f"2025-01-0{i + 1}T00:00:00.000Z",
                 files=[_file(vid * 10, f"glitch_v{i + 1}.safetensors", hashes={"SHA256": f"{vid:X}" * 12 + "0000"},
                              version_id=vid)])
        for i, vid in enumerate(GLITCH_VERSION_IDS)]
    glitch = _model(GLITCH_MODEL_ID, "Glitched Versions Model", glitch_versions)
    quirky_files = [
        _file(QUIRKY_VERSION_ID * 10, "quirky.safetensors", hashes={"SHA256": sha, "AutoV2": sha[:10]}, primary=None,
              meta={"format": "SafeTensor", "size": None, "fp": None}, version_id=QUIRKY_VERSION_ID),
        _file(QUIRKY_VERSION_ID * 10 + 1, "quirky_training.zip", hashes=None, primary=None, meta={},
              version_id=QUIRKY_VERSION_ID),
    ]
    quirky_images = [_image(20, level="Soft"), _image(21, level=None, kind="video", ext="mp4"), _image(22)]
    quirky_images[1].pop("nsfwLevel")
    quirky_images[1]["nsfw"] = True
    quirky_version = _version(QUIRKY_VERSION_ID, QUIRKY_MODEL_ID, "Quirky v1", files=quirky_files, images=quirky_images,
                              published="2024-05-12T07:02:08.427")  # list responses: no trailing Z
    quirky_version["stats"] = {"downloadCount": None, "thumbsUpCount": 3}
    quirky_version["trainedWords"] = ["quirk, odd", " ", "strange"]
    quirky = _model(QUIRKY_MODEL_ID, "Quirky Model", [quirky_version], allowCommercialUse="{Image,RentCivit}",
                    tags=[{"name": "quirk"}, "odd"], stats={"downloadCount": None}, unknownFutureField={"x": 1})
    quirky.pop("nsfwLevel")
    return [archived, taken, glitch, quirky]


def recorded_models() -> list[dict]:
    models: list[dict] = []
    for prefix in ("models-list_limit10", "models-list_limit3"):
        models.extend(sample(prefix)["items"])  # type: ignore[index]
    for prefix in ("models-id-1102", "models-id-1231067"):
        models.append(sample(prefix))  # type: ignore[arg-type]
    return models


def recorded_versions() -> list[dict]:
    """The stand-alone version samples (by id / by hash), without LoRA Manager's appended ``creator``."""
    out = []
    for prefix in ("model-versions-id-1318", "model-versions-by-hash_1255556"):
        v = copy.deepcopy(sample(prefix))
        v.pop("creator", None)  # type: ignore[union-attr]
        out.append(v)
    return out


def all_models() -> list[dict]:
    return recorded_models() + synthesised_models()
