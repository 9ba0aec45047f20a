"""Mount the extension's API on WebUI's FastAPI app with the same ``--api-auth`` check WebUI uses.

Routes added with ``app.add_api_route`` or ``include_router`` are not protected by WebUI itself;
only its own ``Api.add_api_route`` adds the HTTP Basic dependency, so we add the same one.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from modules import shared

from model_workbench.host import Host, HostFeatureUnavailable
from model_workbench.routes import PREFIX, build_router

_basic = HTTPBasic()


def parse_credentials(api_auth: str) -> dict[str, str]:
    """``"user:pass,user2:pass2"`` as WebUI's ``--api-auth`` takes it."""
    pairs = {}
    for item in (api_auth or "").split(","):
        user, sep, password = item.strip().partition(":")
        if sep and user:
            pairs[user] = password
    return pairs


def _check(credentials: HTTPBasicCredentials = Depends(_basic)) -> bool:  # noqa: B008
    expected = parse_credentials(getattr(shared.cmd_opts, "api_auth", None) or "")
    password = expected.get(credentials.username)
    if password is not None and secrets.compare_digest(credentials.password, password):
        return True
    raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Incorrect username or password",
                        headers={"WWW-Authenticate": "Basic"})


def auth_dependencies() -> list[Any]:
    return [Depends(_check)] if getattr(shared.cmd_opts, "api_auth", None) else []


def lora_check_endpoint(host: Any) -> Any:
    """``GET /model-workbench/v1/lora-check?path=``: WebUI's Lora loader against the loaded model."""

    def lora_check(path: str) -> dict[str, Any]:
        try:
            return host.lora_check(Path(path))
        except FileNotFoundError as error:
            raise HTTPException(status_code=404, detail=str(error)) from error
        except HostFeatureUnavailable as error:
            raise HTTPException(status_code=503, detail=str(error)) from error

    return lora_check


def register_routes(app: FastAPI, host: Host) -> None:
    # Ours first: the shared router may answer this path with 501 for hosts that cannot check.
    if hasattr(host, "lora_check"):
        app.add_api_route(f"{PREFIX}/lora-check", lora_check_endpoint(host), methods=["GET"],
                          dependencies=auth_dependencies())
    app.include_router(build_router(host, dependencies=auth_dependencies()))
