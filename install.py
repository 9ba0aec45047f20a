"""Install what Model Workbench needs and WebUI lacks. WebUI runs this at every start, so it is quick.

The rules:
- the requirements are ``[project].dependencies`` in pyproject.toml, nothing else;
- a package that is installed and satisfies its specifier is left alone (no pip call at all);
- a package WebUI pins (``requirements_versions.txt``) is never installed over: WebUI would put its
  own version back at the next start, so we warn instead;
- ``--skip-install`` is honoured (``launch.run_pip`` does nothing then, and we do not even look);
- socksio (what httpx needs for a SOCKS proxy) only when the proxy setting in WebUI's config.json
  is a SOCKS proxy: nobody else needs it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(;.*)?$")
SOCKS_REQUIREMENT = "socksio>=1.0,<2"  # what httpx[socks] asks for
PROXY_OPTION = "model_workbench_proxy"
_CLAUSE = re.compile(r"^(==|!=|>=|<=|~=|>|<)\s*([0-9][0-9A-Za-z.*+!-]*)$")


def read_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``[project].dependencies`` without needing tomllib (WebUI runs Python 3.10)."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+

        return list(tomllib.loads(text)["project"].get("dependencies", []))
    except ImportError:
        pass
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.S | re.M)
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", project.group(1) if project else "", re.S | re.M)
    return re.findall(r"[\"']([^\"']+)[\"']", block.group(1)) if block else []


def parse_requirement(requirement: str) -> tuple[str, list[tuple[str, str]]]:
    """``"httpx>=0.24,<1"`` → ``("httpx", [(">=", "0.24"), ("<", "1")])``."""
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"Cannot read requirement {requirement!r}")
    name, spec = match.group(1), match.group(3)
    clauses = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        clause = _CLAUSE.match(part)
        if not clause:
            raise ValueError(f"Cannot read version clause {part!r} in {requirement!r}")
        clauses.append((clause.group(1), clause.group(2)))
    return name, clauses


def release_parts(version: str) -> tuple[tuple[int, ...], bool]:
    """``"2.1.2+cu121"`` → ``((2, 1, 2), False)``; ``"1.0rc1"`` → ``((1, 0), True)`` (a pre-release)."""
    release = version.split("+", 1)[0]
    parts: list[int] = []
    pre = False
    for part in release.split("."):
        digits = re.match(r"\d+", part)
        parts.append(int(digits.group()) if digits else 0)
        if not digits or digits.group() != part:  # "0rc1", "0a2", "dev0": before the final release
            pre = True
            break
    return tuple(parts), pre


def version_key(version: str) -> tuple[int, ...]:
    """A comparable key: the release padded with zeros, then 0 for a pre-release or 1 for a final one."""
    parts, pre = release_parts(version)
    return tuple(parts) + (0,) * (8 - len(parts)) + (0 if pre else 1,)


def satisfies(version: str, clauses: list[tuple[str, str]]) -> bool:
    have = version_key(version)
    for op, wanted in clauses:
        if wanted.endswith(".*"):
            prefix = release_parts(wanted[:-2])[0]
            same = release_parts(version)[0][: len(prefix)] == prefix
            if (op == "==" and not same) or (op == "!=" and same):
                return False
            continue
        want = version_key(wanted)
        ok = {
            "==": have == want,
            "!=": have != want,
            ">=": have >= want,
            "<=": have <= want,
            ">": have > want,
            "<": have < want,
            "~=": have >= want and _compatible_prefix(version, wanted),
        }[op]
        if not ok:
            return False
    return True


def _compatible_prefix(version: str, wanted: str) -> bool:
    """``~=1.4.2`` means ``>=1.4.2, ==1.4.*``: all but the last release part must match."""
    want = release_parts(wanted)[0]
    keep = max(len(want) - 1, 1)
    return release_parts(version)[0][:keep] == want[:keep]


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def webui_pins(webui_root: Path) -> set[str]:
    """Names WebUI pins in requirements_versions.txt (lower case, ``-`` for ``_``)."""
    path = webui_root / "requirements_versions.txt"
    if not path.is_file():
        return set()
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def find_webui_root() -> Path:
    """WebUI runs the installer from its root and puts that root first on PYTHONPATH."""
    candidates = [Path.cwd()] + [Path(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for candidate in candidates:
        if (candidate / "requirements_versions.txt").is_file():
            return candidate
    return Path.cwd()


def plan(dependencies: list[str], version_of=None, pinned: set[str] = frozenset()) -> tuple[list[str], list[str]]:
    """What to install, and warnings for pinned packages we must not touch."""
    version_of = version_of or installed_version
    to_install, warnings = [], []
    for requirement in dependencies:
        name, clauses = parse_requirement(requirement)
        version = version_of(name)
        if version is not None and satisfies(version, clauses):
            continue
        if version is not None and name.lower().replace("_", "-") in pinned:
            warnings.append(
                f"[Model Workbench] {name} {version} is older than {requirement}, but WebUI pins it; "
                "leaving WebUI's version in place."
            )
            continue
        to_install.append(requirement)
    return to_install, warnings


def socks_proxy_configured(config_file: Path) -> bool:
    """Whether WebUI's settings file names a SOCKS proxy for Model Workbench (no file: no)."""
    try:
        proxy = json.loads(config_file.read_text(encoding="utf-8")).get(PROXY_OPTION, "")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(proxy, str) and proxy.strip().lower().startswith("socks")


def webui_config_file(launch) -> Path:
    """``--ui-settings-file``, which WebUI's launcher has parsed already; else config.json in WebUI's root."""
    configured = getattr(getattr(launch, "args", None), "ui_settings_file", None)
    return Path(configured) if configured else find_webui_root() / "config.json"


def main(launch_module=None) -> int:
    launch = launch_module
    if launch is None:
        try:
            import launch  # only exists inside WebUI's installer process
        except ImportError:
            print("install.py is run by Stable Diffusion WebUI; outside it, use: pip install -e .", file=sys.stderr)
            return 1
    if getattr(getattr(launch, "args", None), "skip_install", False):
        return 0
    requirements = read_dependencies()
    if socks_proxy_configured(webui_config_file(launch)):
        requirements.append(SOCKS_REQUIREMENT)
    to_install, warnings = plan(requirements, pinned=webui_pins(find_webui_root()))
    for warning in warnings:
        print(warning, file=sys.stderr)
    for requirement in to_install:
        launch.run_pip(f'install "{requirement}"', f"Model Workbench requirement: {requirement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
