"""Tolerant converters for JSON values whose type Civitai changed over the years.

Each function accepts anything and returns the wanted type or a default; they never raise, so one
odd field can never make a whole search page unreadable.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

# Image/model NSFW levels are a bitmask since March 2024: 1 PG, 2 PG13, 4 R, 8 X, 16 XXX, 32 Blocked.
NSFW_PG, NSFW_PG13, NSFW_R, NSFW_X, NSFW_XXX, NSFW_BLOCKED = 1, 2, 4, 8, 16, 32
# Older image objects (and /images today) name the level with a word.
_NSFW_WORDS = {"none": NSFW_PG, "soft": NSFW_PG13, "mature": NSFW_R, "x": NSFW_X, "xxx": NSFW_XXX, "blocked": NSFW_BLOCKED}

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def as_int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return default
    return default


def as_float(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return default
    return default


def as_str(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return default


def as_opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def as_bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no", ""):
            return False
    return default


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_str_list(value: Any) -> list[str]:
    """Strings, or objects with a ``name`` (2023 tags were ``[{"name": "punk"}]``)."""
    out: list[str] = []
    for item in as_list(value):
        if isinstance(item, str):
            if item:
                out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append(item["name"])
    return out


def commercial_use(value: Any) -> list[str]:
    """``allowCommercialUse`` came as ``"Rent"``, ``["Image","Rent"]`` and the Postgres literal ``"{Image,Rent}"``."""
    if isinstance(value, list):
        return [v for v in (as_str(x).strip() for x in value) if v]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        return [part.strip().strip('"') for part in text.split(",") if part.strip().strip('"')]
    return []


def nsfw_level(level: Any, nsfw_flag: Any = None) -> int:
    """A single NSFW level bitmask from ``nsfwLevel`` (int or word) or, failing that, the old ``nsfw``.

    The old boolean cannot say how explicit an item is, so ``True`` maps to R (4): hidden at the
    PG/PG13 thresholds, shown once the user allows mature content.
    """
    if isinstance(level, bool):
        return NSFW_R if level else NSFW_PG
    if isinstance(level, (int, float)) and level > 0:
        return int(level)
    if isinstance(level, str):
        word = level.strip().lower()
        if word in _NSFW_WORDS:
            return _NSFW_WORDS[word]
        number = as_int(word)
        if number:
            return number
    if isinstance(nsfw_flag, str):
        return nsfw_level(nsfw_flag)
    if nsfw_flag is True:
        return NSFW_R
    return NSFW_PG


def highest_level(mask: int) -> int:
    """The most explicit single level contained in a bitmask (a model's nsfwLevel combines its images)."""
    return 1 << (mask.bit_length() - 1) if mask > 0 else NSFW_PG


def parse_datetime(value: Any) -> datetime | None:
    """ISO dates with or without ``Z`` and with any number of fraction digits; naive → UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    match = _ISO_RE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, tz = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = timezone.utc
    if tz and tz.upper() != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=tzinfo)
    except ValueError:
        return None
