"""The camera mount convention shared by the simulator (which renders with it) and the VIO (which
estimates with it): a downward-looking camera, optionally pitched forward."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


def nadir_mount_rotation(tilt_deg: float) -> npt.NDArray[np.float64]:
    """R_body_camera of a camera looking down (tilt 0), optical axis pitched forward by ``tilt_deg``.

    base_link is FLU; the optical frame is x right, y down, z forward (REP-103). At nadir, image
    right is body right and image down is body backward.
    """
    t = math.radians(tilt_deg)
    x_camera = (0.0, -1.0, 0.0)  # image right = body right
    y_camera = (-math.cos(t), 0.0, -math.sin(t))  # image down = body backward at nadir
    z_camera = (math.sin(t), 0.0, -math.cos(t))  # optical axis: down, pitched forward
    return np.column_stack((x_camera, y_camera, z_camera))
