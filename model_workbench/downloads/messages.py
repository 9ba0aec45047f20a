"""Every user-facing sentence of the download engine, in one place so the UI can localise them.

The engine serves every source (Civitai, the Hugging Face Hub): ``{source}`` is the name of the file's
source (:func:`model_workbench.downloads.transfer.source_name`), so no sentence blames the wrong site."""

HASH_MISMATCH = (
    "The downloaded file {name} does not match {source}'s SHA256 checksum (it was damaged in transit), so it was "
    "deleted and not installed. Press Retry to download it again."
)
SIZE_MISMATCH = (
    "The downloaded file {name} is {got} bytes but the server announced {expected}, so it was not installed. "
    "Press Retry to download it again."
)
ERROR_BODY = (
    "{source}'s file server sent {what} instead of the model file {name}, so nothing was installed. {hint}"
)
ERROR_BODY_HINT = (
    "If the model needs an account, check your {source} key or token in the settings; otherwise try again later."
)
CONNECTION_LOST = (
    "The connection broke while downloading {name} ({done} of {total} received). The partial file is kept: "
    "press Retry to resume."
)
STALLED = (
    "The download of {name} stalled: the file server stopped sending data. The partial file is kept: press Retry to "
    "resume."
)
TOO_MANY_REDIRECTS = (
    "{source} redirected the download of {name} too many times without reaching the file, so nothing was "
    "installed. Press Retry to try again later; if it persists, check the {source} address and proxy settings."
)
STORAGE_STATUS = "{source}'s file server refused the download of {name} (HTTP {status}). Press Retry to try again."
WRITE_FAILED = (
    "Could not write {name} to {folder}: {reason}. Free some disk space or check the folder's permissions, then "
    "press Retry: the partial file is kept."
)
EXISTS_DIFFERENT = (
    "A different file named {name} already exists in {folder}; it was not overwritten. Rename or remove it, or "
    "choose another subfolder, then press Retry."
)
EXISTS_UNVERIFIED = (
    "A file named {name} already exists in {folder} and {source} gave no checksum to compare it with; it was not "
    "overwritten. Rename or remove it to download again."
)
DESTINATION_TAKEN = (
    "{name} is already being downloaded into {folder} from another file. Wait for it to finish, or choose "
    "another file name or subfolder."
)
REUSED = "{name} is already installed with the same SHA256; the existing file is used."
CANCELLED = "Download cancelled."
PAUSED = "Download paused. The partial file is kept: press Retry to resume."
COMPLETED = "Installed {name}."
COMPLETED_UNVERIFIED = (
    "Installed {name} unverified: {source} gave no SHA256 checksum for this file, so it could not be checked for "
    "damage in transit."
)
QUEUED = "Waiting for a free download slot."
RESOLVING = "Asking {source} for the file."
DOWNLOADING = "Downloading."
VERIFYING = "Verifying the checksum."
SIDECARS_FAILED = "Installed {name}, but writing its preview or info files failed: {reason}."
UNEXPECTED = "The download of {name} failed unexpectedly: {reason}."
NO_DOWNLOADABLE_FILE = "This version has no downloadable file on Civitai (it may be archived or taken down)."
