"""The rosbags typestore of this suite: ROS 2 Jazzy's standard types plus the onboard package's own.

One place for it: the FDR exporter, the simulator's bag writer and the evaluator all read and
write bags with these definitions, taken from the installed share/onboard/msg (or the source
checkout's msg/), so they always match what rosidl generated.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

if TYPE_CHECKING:
    from rosbags.interfaces.typing import Typesdict

logger = logging.getLogger(__name__)

ONBOARD_PACKAGE = "onboard"
_REPO_MSG_DIR = Path(__file__).resolve().parents[2] / "msg"  # source checkout: <repo>/msg next to src/


def onboard_msg_dir() -> Path | None:
    """The onboard package's .msg directory: the installed share/ first, else the source checkout's msg/."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / ONBOARD_PACKAGE / "msg" if prefix else None
        if candidate is not None and candidate.is_dir():
            return candidate
    return _REPO_MSG_DIR if _REPO_MSG_DIR.is_dir() else None


def onboard_typestore() -> Typestore:
    """Jazzy's standard types plus the onboard package's own, read from its .msg files.

    A missing or unparsable definition is logged and skipped: the caller then reports the
    affected messages as of an unknown type instead of failing on everything.
    """
    typestore = get_typestore(Stores.ROS2_JAZZY)
    msg_dir = onboard_msg_dir()
    if msg_dir is None:
        logger.warning("onboard .msg files not found (AMENT_PREFIX_PATH, source msg/): onboard types are skipped")
        return typestore
    types: Typesdict = {}
    for path in sorted(msg_dir.glob("*.msg")):
        try:
            types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"{ONBOARD_PACKAGE}/msg/{path.stem}"))
        except (OSError, TypesysError) as exc:
            logger.warning("cannot parse %s, its type is skipped: %s", path, exc)
    try:
        typestore.register(types)
    except TypesysError as exc:
        logger.warning("cannot register the onboard types from %s, they are skipped: %s", msg_dir, exc)
    return typestore


@cache
def shared_typestore() -> Typestore:
    """One typestore per process for readers that never register types of their own."""
    return onboard_typestore()
