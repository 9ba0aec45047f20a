"""WebUI's ``modules.scripts``: only the ScriptRunner that processing objects carry."""

from __future__ import annotations


class ScriptRunner:
    def __init__(self) -> None:
        self.scripts: list = []
        self.selectable_scripts: list = []
        self.alwayson_scripts: list = []
        self.titles: list = []
        self.callback_map: dict = {}
