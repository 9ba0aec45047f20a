"""Command-line flags Model Workbench adds to WebUI (WebUI calls ``preload(parser)`` before parsing)."""


def preload(parser) -> None:
    parser.add_argument(
        "--model-workbench-civitai-url",
        type=str,
        default=None,
        help="Model Workbench: Civitai base URL (default https://civitai.com; the setting wins when set)",
    )
