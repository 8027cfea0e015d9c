"""An estimator started in the air (a companion computer rebooted in flight, or a graph that missed
the take-off): the static alignment takes the climb for rest, the vertical velocity starts ~5 m/s
wrong, and the backend's gates refuse the baro and GNSS heights that would correct it. Measured
on the short demo flight with a competing process: 50-70 m vertical error for the whole flight.
The estimator re-anchors the height to the barometer after baro.reset_after_s of refused heights
(estimator.baro)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_flights import VioModel, fly, sim_flight

from gps_denied_onboard.estimator.config import BaroConfig, EstimatorConfig
from gps_denied_onboard.estimator.status import EVENT_RESET

START_S = 8.0  # the short flight climbs at 5 m/s from 5 s to 10 s
SLOW_VIO = VioModel(delay_s=(0.5, 1.4))  # vio_node's latency on the loaded 2-core machine


@pytest.fixture(scope="module")
def flight():  # type: ignore[no-untyped-def]
    return sim_flight("short")


@pytest.mark.parametrize("backend", ["eskf", "isam2"])
def test_a_start_in_the_climb_is_re_anchored_to_the_baro(flight, backend: str) -> None:  # type: ignore[no-untyped-def]
    run = fly(flight, EstimatorConfig(backend=backend), vio=SLOW_VIO, start_s=START_S, every_s=0.5)
    resets = [e for e in run.events if e.name == EVENT_RESET and e.data["reason"] == "vertical_reanchor"]
    assert len(resets) == 1, [e.data for e in resets]
    reset_s = resets[0].stamp_ns / 1e9
    assert reset_s < START_S + 8.0
    # The reset is at a fused stamp; the output reaches it once the fusion is there (it waits for VIO).
    after = run.t_s > reset_s + EstimatorConfig().vio.max_delay_s + 0.5
    vertical = np.abs(run.error_m[after, 2])
    assert vertical.max() < 4.0, vertical.max()
    horizontal = np.linalg.norm(run.error_m[after, :2], axis=1)
    assert horizontal.max() < 5.0, horizontal.max()


def test_without_the_re_anchor_the_height_diverges(flight) -> None:  # type: ignore[no-untyped-def]
    """The control: the same start with the re-anchor pushed past the flight's end."""
    config = EstimatorConfig(backend="eskf", baro=BaroConfig(reset_after_s=60.0))
    run = fly(flight, config, vio=SLOW_VIO, start_s=START_S, every_s=0.5)
    assert np.abs(run.error_m[:, 2]).max() > 20.0
