"""Rescan of 1,000 unchanged model files after a restart: seconds (goal ≤ 1).

The tree mixes kinds and sidecars: safetensors LoRAs with kohya metadata, checkpoints,
embeddings, previews and `.json`/`.civitai.info` sidecars, in nested folders. It is scanned
and hashed once (the cold pass), then scanned again by brand-new objects over the same cache
files, as after a WebUI restart: every record must come back with its hash and base model and
no file may be read. Baseline in the same run: `os.walk` + `os.stat` of every file, the least
any scanner must do. Default: 1,000 files × 64 KiB; `--full`: 1,000 files × 1 MiB (the size
does not matter to a warm scan, which is the point).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_workbench.library import hashing  # noqa: E402
from model_workbench.library.local_library import LocalLibrary  # noqa: E402

GOAL_S = 1.0


def safetensors_bytes(size: int, metadata: dict[str, str], seed: int) -> bytes:
    header = {
        "lora_te1_text_model_encoder_layers_0_self_attn_k_proj.lora_down.weight": {
            "dtype": "U8",
            "shape": [size],
            "data_offsets": [0, size],
        },
        "__metadata__": metadata,
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    body = seed.to_bytes(8, "little") + b"\0" * (size - 8)
    return struct.pack("<Q", len(raw)) + raw + body


def build_tree(root: Path, count: int, size: int) -> dict[str, list[str]]:
    folders = {
        "lora": root / "models" / "Lora",
        "checkpoint": root / "models" / "Stable-diffusion",
        "embedding": root / "embeddings",
    }
    for i in range(count):
        kind = "lora" if i % 10 < 7 else ("checkpoint" if i % 10 < 9 else "embedding")
        folder = folders[kind] / f"group{i % 25}" / ("sub" if i % 3 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"model_{i:04d}"
        meta = {"ss_base_model_version": "sdxl_base_v1-0" if i % 2 else "sd_v1", "ss_output_name": stem.name}
        Path(f"{stem}.safetensors").write_bytes(safetensors_bytes(size, meta, i))
        if i % 2 == 0:
            Path(f"{stem}.preview.png").write_bytes(b"\x89PNG")
        if i % 4 == 0:
            Path(f"{stem}.json").write_text("{}")
            Path(f"{stem}.civitai.info").write_text("{}")
    return {kind: [str(path)] for kind, path in folders.items()}


def baseline_walk_stat(folders: dict[str, list[str]]) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    for roots in folders.values():
        for root in roots:
            for directory, _dirs, files in os.walk(root):
                for name in files:
                    if name.endswith(".safetensors"):
                        os.stat(os.path.join(directory, name))
                        count += 1
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1 MiB files instead of 64 KiB")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = (1024 * 1024) if args.full else (64 * 1024)

    with tempfile.TemporaryDirectory(prefix="mw-scan-warm-") as tmp:
        root = Path(tmp)
        folders = build_tree(root, args.files, size)
        data_dir = str(root / "library-data")

        started = time.perf_counter()
        cold = LocalLibrary(data_dir, folders)
        cold.scan()
        report = cold.start_hashing().wait()
        assert report is not None and report.computed == args.files, "the cold pass did not hash every file"
        print(f"cold scan + hash of {args.files} files: {time.perf_counter() - started:.3f} s")

        reads: list[str] = []
        real_sha256_file = hashing.sha256_file
        hashing.sha256_file = lambda path, *a, **k: reads.append(path) or real_sha256_file(path, *a, **k)

        best_warm = best_same = best_base = float("inf")
        for round_no in range(args.rounds):
            base_s, base_count = baseline_walk_stat(folders)
            started = time.perf_counter()
            warm = LocalLibrary(data_dir, folders)  # a restart: caches loaded from disk
            result = warm.scan()
            warm_s = time.perf_counter() - started
            started = time.perf_counter()
            warm.scan()  # the same objects again: a "Refresh" click in a running UI
            same_s = time.perf_counter() - started
            records = result.records
            assert len(records) == base_count == args.files, "the warm scan lost files"
            assert all(r.sha256 and r.base_model for r in records), "the warm scan lost hashes or base models"
            assert warm.unhashed() == [] and reads == [], "the warm scan read file contents"
            print(
                f"round {round_no + 1}: walk+stat baseline {base_s * 1000:.1f} ms | after restart {warm_s * 1000:.1f} ms"
                f" | refresh in the same process {same_s * 1000:.1f} ms"
            )
            best_warm, best_same, best_base = min(best_warm, warm_s), min(best_same, same_s), min(best_base, base_s)
        hashing.sha256_file = real_sha256_file

    print(f"overhead over a bare walk+stat: {best_warm / best_base:.1f}x after restart, {best_same / best_base:.1f}x on refresh")
    print(f"scan_warm: {best_warm:.3f} s for {args.files} unchanged files after a restart (goal <= {GOAL_S:g})")


if __name__ == "__main__":
    main()
