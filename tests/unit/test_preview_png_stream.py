"""The streaming grid writer and its strip-by-strip PNG encoder."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_workbench.preview import png_writer
from model_workbench.preview.grid_image import build_grid
from model_workbench.preview.grid_writer import GridWriter, render_and_save
from model_workbench.preview.manifest import cell_at, read_manifest
from model_workbench.preview.plan import GenerationSettings, epoch_checkpoint, grid_plan
from model_workbench.preview.render import render_plan
from model_workbench.preview.save import MANIFEST_KEY, PNGINFO_KEY
from tests.support.preview import ColourRenderer

W, H = 40, 32


def _plan(prompts=("a cat",), batch_side=1, size=(W, H)):
    epochs = [epoch_checkpoint(f"/p/cat_v1-{e:06d}.safetensors", e) for e in (1, 2, 3)]
    return grid_plan(epochs, [0.6, 0.8, 1.0], list(prompts), GenerationSettings(width=size[0], height=size[1]),
                     seed=4, batch_side=batch_side)


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 7), (7, 0), (1, 1), (1000, 70000), (123457, 99999)])
def test_adler32_combine_matches_zlib(n: int, m: int) -> None:
    a, b = os.urandom(n), os.urandom(m)
    assert png_writer.adler32_combine(zlib.adler32(a), zlib.adler32(b), m) == zlib.adler32(a + b)


def test_strips_assemble_into_a_png_pillow_reads_back() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(37, 23, 3), dtype=np.uint8)
    pixels[5:20, :, :] = 200  # a flat area, as labels and blanks are
    image = Image.fromarray(pixels, "RGB")
    strips = [png_writer.compress_strip(png_writer.strip_pixels(image, top, bottom), 1)
              for top, bottom in [(0, 10), (10, 11), (11, 37)]]
    data = png_writer.assemble(23, 37, strips, [("parameters", "猫 cat <lora:x:1>"), ("plain", "latin é")])
    decoded = Image.open(io.BytesIO(data))
    assert decoded.info["parameters"] == "猫 cat <lora:x:1>"  # UTF-8 iTXt
    assert decoded.info["plain"] == "latin é"  # Latin-1 tEXt
    assert np.array_equal(np.asarray(decoded.convert("RGB")), pixels)


def test_streaming_grid_matches_the_plain_grid(tmp_path: Path) -> None:
    plan = _plan(prompts=("a cat", "一只猫"))
    renderer = ColourRenderer()
    writer = GridWriter(plan, tmp_path, "stream")
    result = render_plan(plan, renderer, on_cell=writer.add)
    saved = writer.finish(result)
    assert not writer.fallback
    plain = build_grid(result)
    with Image.open(saved.png_path) as image:
        assert image.info[PNGINFO_KEY] == result.cells[0].infotext
        assert image.info[MANIFEST_KEY] == saved.manifest_path.name
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(plain.image))
    manifest = read_manifest(saved.manifest_path)
    assert [c["box"] for c in manifest["cells"]] == [list(p.box) for p in plain.placed]
    assert manifest["complete"] and len(manifest["cells"]) == 18


def test_streaming_interrupted_grid_marks_missing_cells(tmp_path: Path) -> None:
    plan = _plan()
    renderer = ColourRenderer()
    writer = GridWriter(plan, tmp_path)
    done: list[int] = []
    result = render_plan(plan, renderer, stop=lambda: len(done) >= 4,
                         on_cell=lambda r: (done.append(1), writer.add(r)))
    saved = writer.finish(result)
    manifest = read_manifest(saved.manifest_path)
    assert manifest["missing"] == [4, 5, 6, 7, 8] and manifest["interrupted"]
    with Image.open(saved.png_path) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(build_grid(result).image))


def test_cells_nobody_handed_over_are_still_placed(tmp_path: Path) -> None:
    plan = _plan(batch_side=2)
    result = render_plan(plan, ColourRenderer())
    saved = GridWriter(plan, tmp_path).finish(result)
    with Image.open(saved.png_path) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(build_grid(result).image))


def test_a_cell_of_another_size_falls_back_to_the_plain_path(tmp_path: Path) -> None:
    plan = _plan()
    renderer = ColourRenderer()

    def rounding_renderer(request):
        images, infos = renderer(request)
        return images.resize((W - 8, H)), infos  # a host that rounds sizes down to a multiple of 16

    writer = GridWriter(plan, tmp_path)
    result = render_plan(plan, rounding_renderer, on_cell=writer.add)
    saved = writer.finish(result)
    assert writer.fallback
    manifest = read_manifest(saved.manifest_path)
    assert manifest["complete"]
    with Image.open(saved.png_path) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(build_grid(result).image))


def test_render_and_save_is_the_one_call_for_the_ui(tmp_path: Path) -> None:
    plan = _plan()
    seen: list[int] = []
    progress: list[tuple[int, int]] = []
    result, saved = render_and_save(plan, ColourRenderer(), tmp_path / "grids", "epochs",
                                    progress=lambda d, t, label: progress.append((d, t)),
                                    on_cell=lambda r: seen.append(r.cell.index))
    assert result.complete and seen == list(range(9)) and progress[-1] == (9, 9)
    assert saved.png_path == tmp_path / "grids" / "epochs.png" and saved.manifest_path.exists()
    assert saved.image is not None and saved.image.size == Image.open(saved.png_path).size


@pytest.mark.parametrize(("epochs", "weights", "prompts"), [(1, 1, 1), (1, 3, 1), (3, 1, 1), (2, 2, 3)])
def test_streaming_matches_plain_for_every_shape(tmp_path: Path, epochs: int, weights: int, prompts: int) -> None:
    ckpts = [epoch_checkpoint(f"/p/cat_v1-{e:06d}.safetensors", e) for e in range(1, epochs + 1)]
    plan = grid_plan(ckpts, [0.5 + i / 10 for i in range(weights)], [f"prompt {i}" for i in range(prompts)],
                     GenerationSettings(width=W, height=H), seed=2)
    renderer = ColourRenderer(fail_at=plan.total - 2 if plan.total > 2 else None)
    writer = GridWriter(plan, tmp_path, workers=1)  # one worker: no deadlock waiting on itself
    result = render_plan(plan, renderer, on_cell=writer.add, continue_on_error=True)
    saved = writer.finish(result)
    assert not writer.fallback
    with Image.open(saved.png_path) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(build_grid(result).image))


def test_click_maps_back_to_a_cell_and_a_raising_callback_leaves_no_files(tmp_path: Path) -> None:
    plan = _plan()
    _, saved = render_and_save(plan, ColourRenderer(), tmp_path)
    box = saved.manifest["cells"][4]["box"]
    assert cell_at(saved.manifest, box[0] + 1, box[1] + 1)["index"] == 4
    assert cell_at(saved.manifest, 0, 0) is None  # the label margin

    def broken_progress(done: int, total: int, label: str) -> None:
        if done == 2:
            raise RuntimeError("UI went away")

    with pytest.raises(RuntimeError, match="UI went away"):
        render_and_save(plan, ColourRenderer(), tmp_path / "second", progress=broken_progress)
    assert not (tmp_path / "second").exists() or list((tmp_path / "second").iterdir()) == []


def _chunks(data: bytes):
    assert data[:8] == png_writer.PNG_SIGNATURE
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        yield kind, body, crc
        pos += 12 + length


def test_streamed_file_is_strictly_valid(tmp_path: Path) -> None:
    # Checked without Pillow: every chunk's CRC, text before the image data, and one zlib stream
    # whose Adler-32 trailer (verified by zlib.decompress) covers exactly height × (1 + 3 × width) bytes.
    plan = _plan(prompts=("a cat", "a dog"))
    _, saved = render_and_save(plan, ColourRenderer(), tmp_path)
    chunks = list(_chunks(saved.png_path.read_bytes()))
    for kind, body, crc in chunks:
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
    kinds = [kind for kind, _, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert kinds.index(b"tEXt") < kinds.index(b"IDAT")
    width, height = struct.unpack(">II", chunks[0][1][:8])
    raw = zlib.decompress(b"".join(body for kind, body, _ in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)
    assert set(raw[:: 1 + 3 * width]) <= {0, 1, 2}  # every scanline's filter byte: None, Sub or Up


def test_the_streamed_path_is_taken_every_time(tmp_path: Path) -> None:
    # The canvas thread fills the layout while __init__ goes on: an __init__ assignment after it
    # started once wiped that state and sent about one grid in six down the slow Pillow path.
    for i in range(25):
        plan = _plan(size=(16, 16))
        writer = GridWriter(plan, tmp_path / str(i))
        result = render_plan(plan, ColourRenderer(), on_cell=writer.add)
        writer._canvas_thread.submit(lambda: None).result()  # every paste done
        assert writer._collect_strips(result) is not None, f"round {i} fell back"
        writer.finish(result)
