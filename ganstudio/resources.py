"""Where GAN Studio finds its bundled files and keeps its caches.

In a source checkout or an editable install the bundled files are the top-level
``resources/`` folder; a wheel carries the same folder as ``ganstudio/resources``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resources_dir() -> Path:
    """The folder of bundled resources (pretrained checkpoints, icons)."""
    for candidate in (_PACKAGE / "resources", _PACKAGE.parent / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"GAN Studio's resources folder is missing (looked in {_PACKAGE / 'resources'} and "
        f"{_PACKAGE.parent / 'resources'}); reinstall the package."
    )


def pretrained_dir() -> Path:
    return resources_dir() / "pretrained"


def cache_dir() -> Path:
    """A per-user cache folder (``$GANSTUDIO_CACHE``, else the platform's cache location)."""
    override = os.environ.get("GANSTUDIO_CACHE")
    if override:
        base = Path(override)
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "ganstudio"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "ganstudio"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganstudio"
    base.mkdir(parents=True, exist_ok=True)
    return base
