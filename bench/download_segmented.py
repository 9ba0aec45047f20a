"""Four connections (byte ranges in parallel) vs one, against a server throttled per connection.

Prints both timings and, as its last line, `download_segmented: <speed-up>x (goal >= 3.2x)`.
Default: 32 MiB at 8 MiB/s per connection; `--full`: 128 MiB at 16 MiB/s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_workbench.civitai import CivitaiClient  # noqa: E402
from model_workbench.downloads import DownloadOptions, DownloadRequest, Transfer  # noqa: E402
from tests.support.fake_civitai_process import ServerProcess  # noqa: E402

MIB = 1 << 20


def timed(client: CivitaiClient, f: dict, dest: Path, connections: int) -> float:
    request = DownloadRequest(url=f["download_url"], dest_dir=dest, filename=f["name"], sha256=f["sha256"])
    t0 = time.perf_counter()
    result = Transfer(client, request, DownloadOptions(connections=connections, min_segment_bytes=MIB)).run()
    elapsed = time.perf_counter() - t0
    assert result.sha256 == f["sha256"]
    result.path.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    size, bps = ((128 * MIB, 16 * MIB) if args.full else (32 * MIB, 8 * MIB))
    out = Path(tempfile.mkdtemp(prefix="mw-bench-"))
    try:
        with ServerProcess("--file-size", str(size), "--throttle-bps", str(bps)) as info, \
                CivitaiClient(info["url"], api_key="test-key") as client:
            f = info["files"][0]
            one = timed(client, f, out / "one", 1)
            four = timed(client, f, out / "four", 4)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"{size // MIB} MiB, server throttled to {bps // MIB} MiB/s per connection")
    print(f"1 connection: {one:.2f} s ({size / MIB / one:.1f} MiB/s); 4 connections: {four:.2f} s "
          f"({size / MIB / four:.1f} MiB/s)")
    print(f"download_segmented: {one / four:.2f}x (goal >= 3.2x)")


if __name__ == "__main__":
    main()
