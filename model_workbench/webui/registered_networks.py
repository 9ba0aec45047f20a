"""LoRA files registered in WebUI's Lora list for one job, and taken out of it again when the job ends.

A preview renders epoch files that live in the project folder, not in WebUI's LoRA folder. They are
added to the built-in Lora extension's registry (``networks.available_networks`` and its alias and
hash tables) under their unique names so that ``<lora:NAME:W>`` loads them without a rescan. Left
there, they would show in ``/sdapi/v1/loras`` and the Lora tab until the next refresh, under names the
user never installed; so the job removes exactly the entries it added, and no entry WebUI listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class RegisteredNetworks:
    """The entries this host added to WebUI's Lora registry and has not removed yet."""

    def __init__(self) -> None:
        self._added: dict[str, Any] = {}

    def add(self, networks: Any, network: Any, name: str, path: Path) -> None:
        """Register ``path`` under ``name`` unless WebUI (or an earlier cell) already lists that name."""
        if name in networks.available_network_aliases:
            return
        entry = network.NetworkOnDisk(name, str(path))
        # PNG Info rewrites a pasted <lora:…> by its hash to the entry's alias (ss_output_name, the
        # same for every retrain of an epoch): make the alias the unique name, so a pasted cell finds it.
        entry.alias = name
        networks.available_networks[name] = entry
        networks.available_network_aliases[name] = entry
        self._added[name] = entry

    def forget(self, networks: Any | None) -> None:
        """Remove every entry :meth:`add` put in, where it is still ours (a refresh may have replaced it)."""
        added, self._added = self._added, {}
        if networks is None:
            return
        for name, entry in added.items():
            for table in (networks.available_networks, networks.available_network_aliases):
                if table.get(name) is entry:
                    del table[name]
        _restore_hash_lookup(networks, set(map(id, added.values())))


def _restore_hash_lookup(networks: Any, removed: set[int]) -> None:
    """Point each short hash a removed entry took over back at the file WebUI lists with it, if any."""
    lookup = getattr(networks, "available_network_hash_lookup", None)
    if lookup is None:
        return
    listed = {getattr(entry, "shorthash", None): entry for entry in networks.available_networks.values()}
    for shorthash, entry in list(lookup.items()):
        if id(entry) in removed:
            if shorthash in listed:
                lookup[shorthash] = listed[shorthash]
            else:
                del lookup[shorthash]
