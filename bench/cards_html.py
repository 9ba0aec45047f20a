"""Building the HTML of 100 result cards: milliseconds (goal ≤ 50).

The models are the recorded Civitai search page (10 checkpoints with up to 31 versions and 10 images
each, videos included), repeated with new ids to fill the grid, so every card goes through image
selection, NSFW filtering, badges (some installed, some with an update) and escaping. Parsing the JSON
is not timed: the tab parses a page once, then renders it. Baseline in the same run: escaping each
model's name and joining the results, the least any HTML view of the same cards must do.
Default: 100 cards, best of 20 rounds; ``--full``: 1,000 cards (the grid never shows that many at once).
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_workbench.civitai.types import Model  # noqa: E402
from model_workbench.ui.civitai_views import cards_html  # noqa: E402

GOAL_MS = 50.0
SAMPLE = next((Path(__file__).resolve().parents[1] / "tests" / "data" / "civitai-samples").glob(
    "models-list_limit10_*.json"))


def make_models(count: int) -> list[Model]:
    items = json.loads(SAMPLE.read_text(encoding="utf-8"))["items"]
    models = []
    for n in range(count):
        raw = copy.deepcopy(items[n % len(items)])
        raw["id"] = 10_000_000 + n
        raw["name"] = f"{raw['name']} <{n}>"
        for k, version in enumerate(raw.get("modelVersions") or []):
            version["id"] = raw["id"] * 100 + k
        models.append(Model.from_json(raw))
    return models


def best_ms(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000 cards instead of 100")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    count = 1000 if args.full else 100
    models = make_models(count)
    installed_models = {m.id for m in models[::4]}
    installed_versions = {m.versions[0].id for m in models[::8] if m.versions}  # half of those are up to date

    def render() -> str:
        return cards_html(models, max_level=2, installed_versions=installed_versions,
                          installed_models=installed_models)

    def baseline() -> str:
        return "".join(f"<div>{html.escape(m.name)}</div>" for m in models)

    out = render()
    assert out.count("class='mw-card'") == count
    ms = best_ms(render, args.rounds)
    base = best_ms(baseline, args.rounds)
    print(f"{count} cards: {len(out) / 1024:.0f} KiB of HTML, {out.count('<video')} videos, "
          f"{out.count('mw-badge-update')} update badges")
    print(f"baseline (escape + join the names): {base:.2f} ms; cards: {ms:.2f} ms ({ms / base:.1f}× the baseline)")
    per_100 = ms * 100 / count
    print(f"cards_html: {per_100:.1f} ms per 100 cards (goal ≤ {GOAL_MS:.0f})")


if __name__ == "__main__":
    main()
