"""Sentences about reading, installing and checking a Hub file (the UI translates them; ``str.format`` fills them)."""

MSG_PROBE_GATED = (
    "The Hub refused to show {name} (HTTP {status}): the repo is gated or private. Accept the license on the model "
    "page while logged in, then set a token in Settings."
)
MSG_PROBE_NOT_FOUND = "{name} was not found on the Hub (HTTP 404): the repo, revision or file may have been removed."
MSG_PROBE_RATE_LIMITED = "The Hub is limiting requests (HTTP 429), so {name} was not read; try again in a minute."
MSG_PROBE_STATUS = "The Hub answered HTTP {status} for {name}, so its header was not read."
MSG_PROBE_UNREACHABLE = "Could not reach the Hub to read {name}: check the endpoint and proxy in Settings."
MSG_PROBE_HTML = (
    "The Hub sent a web page instead of {name}: the endpoint may not be a Hub mirror, or the mirror is down."
)
MSG_PROBE_NOT_SAFETENSORS = "{name} is not a safetensors file: its first bytes are not a safetensors header."
MSG_PROBE_HEADER_TOO_BIG = (
    "{name} announces a {size} MiB header, larger than any model's ({limit} MiB), so it was not read."
)
MSG_PROBE_SHORT = "{name} ended inside its safetensors header, so it was not read."
MSG_PREVIEW_UNREADABLE = "No preview image was written: the repo's image {name} could not be read as a picture."
MSG_PREVIEW_FAILED = "No preview image was written: the repo's image {name} could not be downloaded."
