"""The only code that imports WebUI's ``modules``: A1111 and Forge hosts, callbacks, settings, routes."""
