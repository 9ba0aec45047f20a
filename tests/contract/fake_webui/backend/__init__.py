"""Forge's ``backend`` package, faked: only what the WebUI host touches."""
