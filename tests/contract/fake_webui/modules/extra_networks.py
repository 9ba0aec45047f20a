"""Mirror of ``modules/extra_networks.py``: the prompt syntax parser extensions rely on."""

import re

re_extra_net = re.compile(r"<(\w+):([^>]+)>")


class ExtraNetworkParams:
    def __init__(self, items=None):
        self.items = items or []
        self.positional = [x for x in self.items if "=" not in x]
        self.named = dict(x.split("=", 1) for x in self.items if "=" in x)


def parse_prompt(prompt):
    res = {}

    def found(m):
        res.setdefault(m.group(1), []).append(ExtraNetworkParams(items=m.group(2).split(":")))
        return ""

    prompt = re.sub(re_extra_net, found, prompt)
    return prompt, res
