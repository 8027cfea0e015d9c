"""Default on-disk locations, overridable by environment for tests and deployments."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """Root of the suite's data: ``$ONBOARD_DATA_DIR``, else ``$XDG_DATA_HOME/onboard``."""
    explicit = os.environ.get("ONBOARD_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "onboard"


def default_fdr_root() -> Path:
    """Where flight data recorder flights are written unless a parameter says otherwise."""
    return data_root() / "flights"
