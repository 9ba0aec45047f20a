"""Every sentence the Hub client can say, in one place so the UI can translate them (zh_CN.json).

Sentences name the repo, file and host a user can check; they never contain the access token.
The ``UNREACHABLE*`` names match ``model_workbench.civitai.messages`` so that
``civitai.unreachable.unreachable_message`` can word a failed connection for either source.
"""

ENDPOINT_REFUSED = ("“{value}” is not a web address. Leave the Hub endpoint empty for https://huggingface.co, or type "
                    "the address of a mirror, such as https://hf-mirror.com.")
CURSOR_ELSEWHERE = ("The next page of results points at {host}, which is not the Hub endpoint in Settings. "
                    "Search again.")

GATED_NO_TOKEN = ("{repo} is gated: its files are shared only with accounts that accepted its license. "
                  "Accept the license on the model page while logged in, then set a token in Settings. "
                  "No token was sent.")
GATED_WITH_TOKEN = ("{repo} is gated and the token in Settings does not give access to it yet. Accept the "
                    "license on the model page while logged in with the token's account, then try again.")
PRIVATE_NO_TOKEN = ("{repo} was not found on {host}, or it is private or gated. If it exists, accept the license "
                    "on the model page while logged in, then set a token in Settings. No token was sent.")
PRIVATE_WITH_TOKEN = ("{host} refused the token in Settings for {repo}. If the repo is private or gated, accept the "
                      "license on the model page while logged in with the token's account, or create a new token.")
FORBIDDEN = "{host} refused access to {repo} ({detail})."
REPO_NOT_FOUND = "{repo} was not found on {host}. Check the name; the repo may have been renamed or deleted."
REVISION_NOT_FOUND = "{repo} has no revision “{revision}” on {host}."
FILE_NOT_FOUND = "{path} was not found in {repo} at revision {revision}."
RATE_LIMITED = "{host} is limiting requests right now. Wait a minute and try again."
RATE_LIMITED_RETRY = "{host} is limiting requests right now. Try again in {seconds} seconds."
UNAVAILABLE = "{host} is unavailable right now (HTTP {status}). Try again in a few minutes."
UNEXPECTED_STATUS = "{host} answered with an unexpected status (HTTP {status}: {detail})."
WEB_PAGE = ("{host} answered with a web page instead of data. Is the Hub endpoint in Settings the address of a "
            "Hub mirror (for example https://hf-mirror.com)?")
NOT_JSON = "{host} sent a response that is not valid data. Try again later, or check the Hub endpoint in Settings."
TOO_LARGE = "{path} is larger than {limit} MB, too large to show here."
TIMEOUT = "The Hub at {host} did not answer in time. Try again in a few minutes."
CONNECTION_BROKEN = "The connection to the Hub at {host} broke before it answered. Try again in a few minutes."
TOO_MANY_REDIRECTS = ("The Hub at {host} redirected the request too many times. Check the Hub endpoint and the proxy "
                      "in Settings.")
UNREACHABLE = ("Could not reach the Hub at {host}: no connection could be made. Check your internet connection, the "
               "Hub endpoint and the proxy settings.")
UNREACHABLE_DNS = ("Could not reach the Hub at {host}: the name could not be looked up. Check the Hub endpoint, your "
                   "DNS or the proxy settings.")
UNREACHABLE_REFUSED = ("Could not reach the Hub at {host}: the connection was refused. Check the Hub endpoint and "
                       "the proxy settings.")
UNREACHABLE_OFFLINE = "Could not reach the Hub at {host}: there is no network. Check your internet connection."
UNREACHABLE_PROXY = "Could not reach the Hub at {host} through the proxy: the proxy refused. Check the proxy settings."
# A file WebUI cannot load (a PEFT/diffusers LoRA in A1111, a diffusers folder's part): not saved.
NOT_LOADABLE = "{path} was not installed: {reason}"
