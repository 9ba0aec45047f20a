"""What every tab builder receives: the host and a few derived views of it."""

from __future__ import annotations

import html
from dataclasses import dataclass

from model_workbench.host import Host
from model_workbench.ui.i18n import t


@dataclass
class UiContext:
    host: Host
    standalone: bool = False

    def folders_html(self) -> str:
        """The model folders per kind, install folder first, as a small table."""
        rows = []
        for kind, folders in self.host.model_folders().items():
            if not folders:
                continue
            install, *others = folders
            extra = "".join(f"<br><span class='mw-muted'>{html.escape(str(p))}</span>" for p in others)
            rows.append(f"<tr><td>{html.escape(t(kind.value))}</td><td>{html.escape(str(install))}{extra}</td></tr>")
        head = f"<tr><th>{html.escape(t('Kind'))}</th><th>{html.escape(t('Install folder'))}</th></tr>"
        return f"<table class='mw-table'>{head}{''.join(rows)}</table>"

    def training_notice_html(self) -> str:
        """An explanation where this host cannot train, nothing where it can."""
        caps = self.host.capabilities()
        if caps.can_train:
            return ""
        return (
            "<div class='mw-notice'>"
            + html.escape(t("Training and previews need Stable Diffusion WebUI with a loaded checkpoint. "
                            "Projects and datasets can be prepared here."))
            + "</div>"
        )
