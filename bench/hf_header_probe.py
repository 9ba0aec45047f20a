"""Classify the files of a 20-file Hub repo by header range requests vs downloading each file whole.

The repo is served on loopback by the fake Hub (tests/support/fake_hub.py): each ``resolve``
is a 302 from the endpoint origin to a storage origin, as on huggingface.co. The files are real-shaped
kohya LoRAs (SD1.5 key table, rank 8: 9 MiB each; ``--full``: rank 128, 144 MiB each, the size of a
typical SD1.5 LoRA on the Hub) with a few SDXL
checkpoint-shaped headers among them. Both ways use the same client and the same 6-thread pool; bytes are
what the servers sent. Last line: ``hf_header_probe: <data ratio>× less data, <time ratio>× less time``.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_workbench.civitai.http import make_http_client  # noqa: E402
from model_workbench.huggingface.probe import PROBE_WORKERS, probe_files  # noqa: E402
from model_workbench.huggingface.types import HubFile, resolve_url  # noqa: E402
from tests.support.fake_hub import FakeHub  # noqa: E402
from tests.support.safetensors_files import checkpoint_tensors, kohya_lora_tensors, safetensors_bytes  # noqa: E402

REPO = "bench/twenty-files"
FILES = 20
GOAL = 50.0


def make_repo(hub: FakeHub, rank: int) -> list[HubFile]:
    lora = safetensors_bytes(kohya_lora_tensors("sd15", rank), {"ss_network_module": "networks.lora"}, fill=b"\3")
    files = []
    for i in range(FILES):
        if i % 5 == 4:  # a checkpoint-shaped header padded to the same size as the LoRAs
            head = safetensors_bytes(checkpoint_tensors("sdxl"), with_data=False)
            data = head + b"\0" * (len(lora) - len(head))
        else:
            data = lora
        stored = hub.add_file(REPO, f"file-{i:02d}.safetensors", data)
        files.append(HubFile(REPO, hub.head(REPO), f"file-{i:02d}.safetensors", len(data), stored.sha256))
    return files


def sent(hub: FakeHub) -> int:
    return hub.sent["api"] + hub.sent["storage"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="rank-128 LoRAs (144 MiB each) instead of rank 8")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    hub = FakeHub(repos=[]).start()
    try:
        files = make_repo(hub, 128 if args.full else 8)
        total = sum(f.size for f in files)
        http, _ = make_http_client(hub.url, None)

        def whole(f: HubFile) -> int:
            with http.stream("GET", resolve_url(hub.url, REPO, f.revision, f.path)) as r:
                return sum(len(chunk) for chunk in r.iter_raw())

        probe_s, whole_s, probe_bytes, whole_bytes = [], [], 0, 0
        for i in range(args.rounds):
            before = sent(hub)
            t0 = time.perf_counter()
            kinds = probe_files(http, hub.url, files)
            probe_s.append(time.perf_counter() - t0)
            probe_bytes = sent(hub) - before
            assert len(kinds) == FILES and all(k.kind for k in kinds.values()), kinds
            before = sent(hub)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(PROBE_WORKERS) as pool:
                assert sum(pool.map(whole, files)) == total
            whole_s.append(time.perf_counter() - t0)
            whole_bytes = sent(hub) - before
            print(f"round {i + 1}: headers {probe_s[-1] * 1000:.0f} ms / {probe_bytes / 1024:.0f} KiB, "
                  f"whole files {whole_s[-1] * 1000:.0f} ms / {whole_bytes / 2**20:.0f} MiB")
    finally:
        hub.stop()
    data_ratio = whole_bytes / probe_bytes
    time_ratio = min(whole_s) / min(probe_s)  # best of N each: the least disturbed run
    print(f"{FILES} files of {files[0].size / 2**20:.1f} MiB: {data_ratio:.0f}x less data, {time_ratio:.0f}x less time")
    print(f"hf_header_probe: {data_ratio:.0f}× less data, {time_ratio:.0f}× less time (goal ≥ {GOAL:.0f}×)")


if __name__ == "__main__":
    main()
