"""Mirror of ``extensions-builtin/Lora/network.py: NetworkOnDisk``."""

import os


class NetworkOnDisk:
    def __init__(self, name, filename):
        self.name = name
        self.filename = filename
        self.metadata = {}
        self.is_safetensors = os.path.splitext(filename)[1].lower() == ".safetensors"
        self.alias = self.metadata.get("ss_output_name", self.name)
        self.hash = None
        self.shorthash = None
