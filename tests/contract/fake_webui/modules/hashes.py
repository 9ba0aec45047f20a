"""Mirror of ``modules/hashes.py: sha256_from_cache`` over an in-memory cache keyed by title."""

import os

cache: dict = {}


def sha256_from_cache(filename, title, use_addnet_hash=False):
    entry = cache.get(title)
    if entry is None or os.path.getmtime(filename) > entry["mtime"]:
        return None
    return entry["sha256"]


def sha256(filename, title, use_addnet_hash=False):
    """The file's sha256, computed and cached under ``title`` (as ``modules/hashes.py: sha256``)."""
    import hashlib

    with open(filename, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    cache[title] = {"mtime": os.path.getmtime(filename), "sha256": digest}
    return digest
