"""Mirror of ``modules/options.py``: OptionInfo and Options.add_option/__getattr__/set."""


class OptionInfo:
    def __init__(self, default=None, label="", component=None, component_args=None, onchange=None, section=None,
                 refresh=None, comment_before="", comment_after="", infotext=None, restrict_api=False,
                 category_id=None):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.category_id = category_id
        self.refresh = refresh
        self.do_not_save = False
        self.comment_before = comment_before
        self.comment_after = comment_after
        self.infotext = infotext
        self.restrict_api = restrict_api

    def info(self, info):
        self.comment_after += f"<span class='info'>({info})</span>"
        return self

    def needs_reload_ui(self):
        return self

    def needs_restart(self):
        return self


class Options:
    def __init__(self, data_labels=None, restricted_opts=None):
        self.__dict__["data_labels"] = dict(data_labels or {})
        self.__dict__["data"] = {k: v.default for k, v in self.data_labels.items()}
        self.__dict__["restricted_opts"] = restricted_opts or set()

    def __setattr__(self, key, value):
        if key in self.data or key in self.data_labels:
            self.data[key] = value
            return
        super().__setattr__(key, value)

    def __getattr__(self, item):
        if item in self.data:
            return self.data[item]
        if item in self.data_labels:
            return self.data_labels[item].default
        raise AttributeError(item)

    def add_option(self, key, info):
        # WebUI's settings page reads item.section[0]; a missing section raises there.
        assert info.section is not None and info.section[0] is not None, f"option {key} has no section"
        self.data_labels[key] = info
        if key not in self.data:
            self.data[key] = info.default

    def save(self, filename):
        """As WebUI's: the values as JSON in ``filename`` (WebUI's config.json)."""
        import json

        with open(filename, "w", encoding="utf8") as file:
            json.dump(self.data, file, indent=4, ensure_ascii=False)

    def set(self, key, value, is_api=False, run_callbacks=True):
        # As WebUI 1.10.1's Options.set: unchanged → False; restrict_api refuses API writes; onchange runs
        # after the value is stored, and a failing onchange puts the old value back.
        oldval = self.data.get(key, None)
        if oldval == value:
            return False
        option = self.data_labels[key]
        if option.do_not_save:
            return False
        if is_api and option.restrict_api:
            return False
        self.data[key] = value
        if run_callbacks and option.onchange is not None:
            try:
                option.onchange()
            except Exception:
                self.data[key] = oldval
                return False
        return True
