"""What every tab builder receives: the host and a few derived views of it."""

from __future__ import annotations

import html
from dataclasses import dataclass

from model_workbench.host import Host
from model_workbench.ui.i18n import t, tm


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
        """What this host cannot do and why (named honestly: never "needs WebUI" inside Forge);
        nothing where it can do everything."""
        caps = self.host.capabilities()
        if caps.can_train and not caps.notes:
            return ""
        if not caps.can_generate:
            lines = [t("Training and previews need Stable Diffusion WebUI with a loaded checkpoint. "
                       "Projects and datasets can be prepared here.")]
        elif not caps.can_train:
            lines = [t("Running in {name}: previews and grids work here; training does not.").format(name=caps.name)]
        else:
            lines = [t("Running in {name}.").format(name=caps.name)]
        lines += list(caps.notes)
        return "<div class='mw-notice'>" + "<br>".join(html.escape(tm(line)) for line in lines) + "</div>"
