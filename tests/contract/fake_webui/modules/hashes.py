"""Mirror of ``modules/hashes.py: sha256_from_cache`` over an in-memory cache keyed by title."""

import os

cache: dict = {}


def sha256_from_cache(filename, title, use_addnet_hash=False):
    entry = cache.get(title)
    if entry is None or os.path.getmtime(filename) > entry["mtime"]:
        return None
    return entry["sha256"]
