"""Shaped after A1111 1.10.1 ``modules/script_callbacks.py`` (the callbacks the pack could use)."""

callback_map = {"callbacks_ui_settings": [], "callbacks_app_started": [], "callbacks_script_unloaded": []}


def clear_callbacks():
    for callback_list in callback_map.values():
        callback_list.clear()


def on_ui_settings(callback, *, name=None):
    callback_map["callbacks_ui_settings"].append(callback)


def on_app_started(callback, *, name=None):
    callback_map["callbacks_app_started"].append(callback)


def on_script_unloaded(callback, *, name=None):
    callback_map["callbacks_script_unloaded"].append(callback)
