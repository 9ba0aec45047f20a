"""What a version trains (LoRA, Embedding, Hypernetwork) as the tab shows it: the kind chooser for a new
version, the kinds this host cannot train with the host's own reason, and a version's kind read from its
config. Kinds a host cannot train stay on offer, marked, so the user learns why instead of wondering
where they went; creating one is refused with that reason.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from model_workbench.host import Host
from model_workbench.training import projects
from model_workbench.training.webui_fields import KindFieldsError
from model_workbench.training.webui_fields import version_kind as stored_kind
from model_workbench.training.webui_kinds import VersionKind, WebuiTrainerSupport
from model_workbench.ui.i18n import t, tf, tm

KINDS = (VersionKind.LORA, VersionKind.EMBEDDING, VersionKind.HYPERNETWORK)


def kind_name(kind: VersionKind) -> str:
    """The kind as the tab names it (WebUI's own words for the two it trains)."""
    return {VersionKind.LORA: t("LoRA"), VersionKind.EMBEDDING: t("Embedding"),
            VersionKind.HYPERNETWORK: t("Hypernetwork")}[kind]


def support_of(host: Host) -> dict[VersionKind, WebuiTrainerSupport]:
    """Per WebUI-trained kind, whether this host trains and previews it (LoRA is the host's own question)."""
    return {s.kind: s for s in host.webui_trainer_support()}


def train_reason(host: Host, kind: VersionKind) -> str | None:
    """Why this host cannot train ``kind`` (translated), or None where it can."""
    support = support_of(host).get(kind)
    if kind is VersionKind.LORA or support is None or support.can_train:
        return None
    return tm(support.train_reason or "")


def kind_choices(host: Host) -> list[str]:
    """The chooser's labels: a kind the host cannot train is marked, not left out."""
    return [kind_name(k) if train_reason(host, k) is None else tf("{kind} (unavailable)", kind=kind_name(k))
            for k in KINDS]


def kind_from_choice(host: Host, label: str | None) -> VersionKind:
    """The kind behind a chooser label (LoRA when nothing is chosen)."""
    for kind, shown in zip(KINDS, kind_choices(host), strict=True):
        if label in (shown, kind.value, kind_name(kind)):
            return kind
    return VersionKind.LORA


def unavailable_html(host: Host) -> str:
    """One line per kind this host cannot train, with the host's reason."""
    lines = [tf("{kind}: unavailable here. {reason}", kind=kind_name(k), reason=reason)
             for k in KINDS if (reason := train_reason(host, k)) is not None]
    if not lines:
        return ""
    body = "<br>".join(html.escape(line) for line in lines)
    return f"<div class='mw-notice mw-kinds-unavailable'>{body}</div>"


def config_kind(config: dict[str, Any]) -> VersionKind:
    """A version's kind from its config; no ``kind`` (versions made before kinds existed) is LoRA, and so
    is a kind nobody knows (the form then shows what a LoRA version has)."""
    try:
        return stored_kind(config)
    except KindFieldsError:
        return VersionKind.LORA


# The selected version's config while the tab refreshes its sections for it (see :func:`one_read`).
_SELECTED: ContextVar[tuple[tuple[Path, str, str], dict[str, Any]] | None] = ContextVar("mw_selected_config",
                                                                                        default=None)


@contextmanager
def one_read(root: Path, project: str, version: str) -> Iterator[None]:
    """Within: :func:`version_config` of this version answers from one read. A version change refreshes
    every section (form, base model, checkpoints, grid, compare, publish…), each asking for the config."""
    key = (Path(root), project, version)
    token = _SELECTED.set((key, _read_config(root, project, version)))
    try:
        yield
    finally:
        _SELECTED.reset(token)


def version_config(root: Path, project: str, version: str) -> dict[str, Any]:
    """The version's stored config, or an empty one where there is no such version yet."""
    held = _SELECTED.get()
    if held is not None and held[0] == (Path(root), project, version):
        return dict(held[1])
    return _read_config(root, project, version)


def _read_config(root: Path, project: str, version: str) -> dict[str, Any]:
    if not project or not version:
        return {}
    try:
        return projects.read_version_config(root, project, version)
    except projects.ProjectError:
        return {}


def version_kind(root: Path, project: str, version: str) -> VersionKind:
    return config_kind(version_config(root, project, version))

