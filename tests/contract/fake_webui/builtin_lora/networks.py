"""Mirror of the registry of ``extensions-builtin/Lora/networks.py`` (importable as ``networks``)."""

available_networks: dict = {}
available_network_aliases: dict = {}
forbidden_network_aliases: dict = {"none": 1, "Addams": 1}
full_rescans = []


def list_available_networks():
    full_rescans.append(True)
    available_networks.clear()
    available_network_aliases.clear()
