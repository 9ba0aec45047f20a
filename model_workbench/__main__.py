"""``python -m model_workbench``: the Model Workbench tabs served by gradio, without WebUI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from model_workbench.host import ModelKind
from model_workbench.standalone import StandaloneConfig

FOLDER_FLAGS = {
    "ckpt_dir": ModelKind.CHECKPOINT,
    "lora_dir": ModelKind.LORA,
    "lyco_dir": ModelKind.LYCORIS,
    "embeddings_dir": ModelKind.EMBEDDING,
    "hypernetwork_dir": ModelKind.HYPERNETWORK,
    "vae_dir": ModelKind.VAE,
    "controlnet_dir": ModelKind.CONTROLNET,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model_workbench",
        description="Model Workbench on its own: browse Civitai, install models, manage the library.",
    )
    parser.add_argument("--models-dir", type=Path, default=Path("models"),
                        help="a WebUI-style models folder (Stable-diffusion/, Lora/, VAE/ ...); default ./models")
    parser.add_argument("--data-dir", type=Path, default=Path("outputs/model-workbench"),
                        help="where settings, caches and training projects are kept")
    for flag in FOLDER_FLAGS:
        parser.add_argument("--" + flag.replace("_", "-"), type=Path, default=None,
                            help=f"folder for {FOLDER_FLAGS[flag].value} models (overrides --models-dir)")
    parser.add_argument("--civitai-url", default="", help="Civitai base URL (default https://civitai.com)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7870, help="port to serve on (default 7870)")
    parser.add_argument("--lang", default="", help="UI language, e.g. zh_CN (default English)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    return parser


def config_from_args(args: argparse.Namespace) -> StandaloneConfig:
    """The standalone host's configuration from the parsed flags (shared with the test suite's server)."""
    return StandaloneConfig(
        models_dir=args.models_dir.expanduser().resolve(),
        data_dir=args.data_dir.expanduser().resolve(),
        folder_flags={kind: getattr(args, flag).expanduser().resolve()
                      for flag, kind in FOLDER_FLAGS.items() if getattr(args, flag) is not None},
        civitai_url=args.civitai_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imported here so that --help works without gradio installed.
    from model_workbench.standalone import StandaloneHost
    from model_workbench.ui.app import launch

    host = StandaloneHost(config_from_args(args))
    launch(host, server_name=args.host, server_port=args.port, lang=args.lang, open_browser=not args.no_browser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
