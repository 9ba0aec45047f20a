"""Mirror of ``modules/script_callbacks.py``: callbacks stored per category, in order."""

from collections import namedtuple

ScriptCallback = namedtuple("ScriptCallback", ["script", "callback", "name"])
callback_map: dict[str, list[ScriptCallback]] = {}


def clear_callbacks():
    callback_map.clear()


def add_callback(category, fun, *, name=None):
    callback_map.setdefault(category, []).append(ScriptCallback("scripts/model_workbench.py", fun, name))


def on_ui_tabs(callback, *, name=None):
    add_callback("callbacks_ui_tabs", callback, name=name)


def on_ui_settings(callback, *, name=None):
    add_callback("callbacks_ui_settings", callback, name=name)


def on_app_started(callback, *, name=None):
    add_callback("callbacks_app_started", callback, name=name)


def on_model_loaded(callback, *, name=None):
    add_callback("callbacks_model_loaded", callback, name=name)


def on_script_unloaded(callback, *, name=None):
    add_callback("callbacks_script_unloaded", callback, name=name)


def ui_tabs_callback():
    res = []
    for c in callback_map.get("callbacks_ui_tabs", []):
        res += c.callback() or []
    return res


def ui_settings_callback():
    for c in callback_map.get("callbacks_ui_settings", []):
        c.callback()


def app_started_callback(demo, app):
    for c in callback_map.get("callbacks_app_started", []):
        c.callback(demo, app)
