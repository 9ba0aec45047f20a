"""First scan of 1,000 model files: our scan + parallel SHA256 vs `sha256sum` one file after another.

Default: 1,000 files × 256 KiB. `--full`: 1,000 files × 4 MiB (4 GiB; needs that much free disk).

Both sides read from the page cache: dropping it needs root, so every file is read once before
timing and the two are interleaved (baseline, ours, baseline, ours, ...), keeping the best run
of each. The baseline is one `sha256sum f1 f2 ... fN` call (no per-process start cost), which
hashes the files one after another with the same SHA-NI/OpenSSL-class code Python's hashlib uses.
Ours is a cold `LocalLibrary.scan()` plus hashing every file, each round with an empty cache,
with the default worker count and again with one worker (to separate the gain from parallelism
from any per-core speed difference between OpenSSL's SHA256 and coreutils').
Prints the ratio baseline_seconds / our_seconds as the last line (goal ≥ 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_workbench.library.local_library import LocalLibrary  # noqa: E402

GOAL = 1.5


def make_files(root: Path, count: int, size: int) -> list[Path]:
    """`count` files of `size` distinct bytes, in 10 subfolders like a real LoRA folder."""
    block = os.urandom(size)
    paths = []
    for i in range(count):
        folder = root / f"set{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"model_{i:04d}.safetensors"
        # A per-file prefix makes every file's hash different without generating new random data.
        with path.open("wb") as handle:
            handle.write(i.to_bytes(8, "little"))
            handle.write(block[8:])
        paths.append(path)
    return paths


def warm_page_cache(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while handle.read(8 * 1024 * 1024):
                pass


def run_baseline(paths: list[Path]) -> tuple[float, dict[str, str]]:
    started = time.perf_counter()
    out = subprocess.run(["sha256sum", *map(str, paths)], check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    digests = {}
    for line in out.splitlines():
        digest, _, name = line.partition("  ")
        digests[name] = digest
    return seconds, digests


def run_ours(root: Path, workdir: Path, round_no: int, workers: int | None) -> tuple[float, dict[str, str], int]:
    data_dir = workdir / f"data{round_no}-{workers}"
    started = time.perf_counter()
    extra = {} if workers is None else {"hash_workers": workers}
    library = LocalLibrary(str(data_dir), {"lora": [str(root)]}, **extra)
    library.scan()
    report = library.start_hashing().wait()
    seconds = time.perf_counter() - started
    shutil.rmtree(data_dir, ignore_errors=True)
    assert report is not None
    return seconds, report.hashes, library.hasher.workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000 files × 4 MiB instead of 256 KiB")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = (4 * 1024 * 1024) if args.full else (256 * 1024)
    if shutil.which("sha256sum") is None:
        sys.exit("sha256sum is not installed, so there is no baseline to compare with.")

    with tempfile.TemporaryDirectory(prefix="mw-hash-cold-") as tmp:
        workdir = Path(tmp)
        root = workdir / "Lora"
        paths = make_files(root, args.files, size)
        warm_page_cache(paths)
        total_mib = args.files * size / 2**20
        print(f"{args.files} files × {size // 1024} KiB = {total_mib:.0f} MiB, {os.cpu_count()} CPUs, page cache warm")

        best_base = best_ours = best_single = float("inf")
        workers = 0
        for round_no in range(args.rounds):
            base_s, base_digests = run_baseline(paths)
            ours_s, our_digests, workers = run_ours(root, workdir, round_no, None)
            single_s, single_digests, _ = run_ours(root, workdir, round_no, 1)
            if not (our_digests == single_digests == base_digests):
                sys.exit("Our hashes differ from sha256sum's: the benchmark result would be meaningless.")
            print(
                f"round {round_no + 1}: sha256sum {base_s:.3f} s ({total_mib / base_s:.0f} MiB/s) | "
                f"ours {ours_s:.3f} s ({total_mib / ours_s:.0f} MiB/s, {workers} workers) | "
                f"ours with 1 worker {single_s:.3f} s ({total_mib / single_s:.0f} MiB/s); scan included"
            )
            best_base, best_ours = min(best_base, base_s), min(best_ours, ours_s)
            best_single = min(best_single, single_s)

    ratio = best_base / best_ours
    # Shown separately because hashlib (OpenSSL) may be faster per core than coreutils: this
    # line is the gain from hashing several files at once alone.
    print(f"parallel gain over our own one-file-at-a-time: {best_single / best_ours:.2f}x ({workers} workers)")
    print(f"one worker vs sha256sum: {best_base / best_single:.2f}x")
    print(f"hash_cold: {ratio:.2f}x sha256sum throughput (goal >= {GOAL})")


if __name__ == "__main__":
    main()
