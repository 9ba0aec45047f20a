"""Every user-facing sentence of the Civitai client, in one place so the UI can localise them.

Messages are plain English a user can act on. They never contain the API key.
"""

API_KEY_PAGE = "https://civitai.com/user/account"

NEEDS_API_KEY = (
    "Civitai requires you to be logged in to download this file. Create an API key at "
    f"{API_KEY_PAGE} (API Keys section) and enter it in Model Workbench's settings."
)
BAD_API_KEY = (
    "Civitai rejected the API key. Check the key in Model Workbench's settings, or create a new one at "
    f"{API_KEY_PAGE} (API Keys section)."
)
DOWNLOADS_DISABLED = "The creator of this model has disabled downloads of this file on Civitai."
EARLY_ACCESS = (
    "This model is in Early Access on Civitai until {deadline}. Buy access on civitai.com, or wait "
    "until then and try again."
)
EARLY_ACCESS_NO_DEADLINE = "This model is in Early Access on Civitai. Buy access on civitai.com, or try again later."
FORBIDDEN = "Civitai refused access to this file ({detail}). Check that your account may download it."
NOT_FOUND = "Civitai could not find this item ({detail}). It may have been deleted or unpublished."
ARCHIVED = "This model is archived on Civitai and can no longer be downloaded."
RATE_LIMITED = "Civitai is limiting requests right now ({detail}). Wait a minute and try again."
RATE_LIMITED_RETRY = "Civitai is limiting requests right now ({detail}). Try again in {seconds} seconds."
UNAVAILABLE = "Civitai is unavailable right now (HTTP {status}). Try again in a few minutes."
UNAVAILABLE_HTML = "Civitai is unavailable right now (it answered with a web page instead of data). Try again in a few minutes."
UNREACHABLE = "Could not reach Civitai at {host}: no connection could be made. Check your internet connection or proxy settings."
UNREACHABLE_DNS = (
    "Could not reach Civitai at {host}: the name could not be looked up. Check your internet connection, DNS or "
    "proxy settings."
)
UNREACHABLE_REFUSED = (
    "Could not reach Civitai at {host}: the connection was refused. Check the Civitai address and the proxy settings."
)
UNREACHABLE_OFFLINE = "Could not reach Civitai at {host}: there is no network. Check your internet connection."
UNREACHABLE_PROXY = "Could not reach Civitai at {host} through the proxy: the proxy refused. Check the proxy settings."
CONNECTION_BROKEN = "The connection to Civitai at {host} broke before it answered. Try again in a few minutes."
TOO_MANY_REDIRECTS = (
    "Civitai at {host} redirected the request too many times. Try again later; if it persists, check the Civitai "
    "address and the proxy settings."
)
TIMEOUT = "Civitai at {host} did not answer in time. Try again in a few minutes."
NOT_JSON = "Civitai sent a response that is not valid data. Try again later; if it persists the API may have changed."
BAD_REQUEST = "Civitai rejected the request as invalid ({detail}). Change the search filters and try again."
UNEXPECTED_STATUS = "Civitai answered with an unexpected status (HTTP {status}: {detail})."
LOGIN_REDIRECT = NEEDS_API_KEY
NO_MODEL_OF_VERSION = "Civitai did not say which model this version belongs to."
