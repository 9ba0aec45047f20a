"""``python -m tests.support.serve_tiny``: the standalone app with the tiny torch host (trains, previews, tags).

Same flags as ``python -m model_workbench``; the e2e tests start it through ``AppServer(module=...)``.
``MW_TINY_CHECKPOINTS`` (comma-separated file names) gives the host that many tiny checkpoints to choose
a base model from (none by default).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from model_workbench.__main__ import build_parser, config_from_args
from model_workbench.ui.app import launch
from tests.support.tiny_diffusion import single_thread
from tests.support.tiny_host import TinyHost


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    with single_thread():  # the tiny model is far faster on one thread on a shared CPU box
        checkpoints = [n.strip() for n in os.environ.get("MW_TINY_CHECKPOINTS", "").split(",") if n.strip()]
        launch(TinyHost(config, checkpoints=checkpoints), server_name=args.host, server_port=args.port, lang=args.lang,
               open_browser=not args.no_browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
