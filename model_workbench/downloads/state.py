"""The small JSON file beside a ``<name>.part`` that lets a download resume after a restart.

It never holds a signed URL (they expire) nor the API key: only the stable Civitai download URL,
what we expect (SHA256, size) and, for segmented downloads, how far each byte range got.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from model_workbench.jsonfile import write_json_atomic

STATE_VERSION = 1


def part_path(final: Path) -> Path:
    return final.with_name(final.name + ".part")


def state_path(final: Path) -> Path:
    return final.with_name(final.name + ".part.json")


@dataclass
class Segment:
    start: int
    end: int | None  # exclusive; None = until the server stops (unknown length)
    done: int = 0  # bytes written from ``start``

    @property
    def position(self) -> int:
        return self.start + self.done

    @property
    def finished(self) -> bool:
        return self.end is not None and self.position >= self.end


@dataclass
class PartState:
    url: str
    name: str
    sha256: str | None = None
    total: int | None = None
    version_id: int | None = None
    file_id: int | None = None
    segments: list[Segment] = field(default_factory=list)
    version: int = STATE_VERSION

    @property
    def segmented(self) -> bool:
        return len(self.segments) > 1

    def save(self, final: Path) -> None:
        write_json_atomic(state_path(final), asdict(self))  # a crash never leaves half a state file

    @classmethod
    def load(cls, final: Path) -> PartState | None:
        try:
            raw = json.loads(state_path(final).read_text(encoding="utf-8"))
            segments = [Segment(int(s["start"]), None if s["end"] is None else int(s["end"]), int(s["done"]))
                        for s in raw.get("segments", [])]
            return cls(url=str(raw["url"]), name=str(raw["name"]), sha256=raw.get("sha256"), total=raw.get("total"),
                       version_id=raw.get("version_id"), file_id=raw.get("file_id"), segments=segments,
                       version=int(raw.get("version", STATE_VERSION)))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def remove_partial(final: Path) -> None:
    for path in (part_path(final), state_path(final)):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def find_partials(folder: Path) -> list[tuple[Path, PartState]]:
    """Every resumable download under ``folder`` (recursively): (final path, state)."""
    found = []
    for state_file in Path(folder).rglob("*.part.json"):
        final = state_file.with_name(state_file.name[: -len(".part.json")])
        state = PartState.load(final)
        if state is not None and part_path(final).exists():
            found.append((final, state))
    return found
