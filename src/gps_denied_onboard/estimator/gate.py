"""The GNSS trust state machine: the spoofing gate in front of GNSS fusion.

States match EstimatorStatus.GNSS_*: UNAVAILABLE (no recent fix), PROBATION (consistent again,
accumulating dwell), TRUSTED (fused), REJECTED (failing a check). Horizontal and vertical are
judged separately: a sample is *consistent* when its horizontal part passes all three checks
below; its height is then *vertically consistent* if it also passes the vertical check.

1. Innovation gate, horizontal: ``nu_h^T (P_h + R_h)^-1 nu_h <= chi2_2(innovation_probability)``
   against the fused prediction (``nu = z - p_pred``, east/north). Catches jumps and offsets.
   Vertical, apart: ``nu_u^2 <= chi2_1(vertical_probability) (P_u + R_u + vertical_extra_sigma_m^2)``.
   Baro and GNSS heights drift metres apart within a minute on real vehicles (the baro-GNSS
   offset is estimated, estimator.baro, but not perfectly): a height that fails its own test only
   withholds the height (the horizontal part is fused, ``GateDecision.fuse_vertical`` is False,
   and the estimator counts it); it never moves the trust state.
2. Distance bound: the horizontal distance to the estimate is at most ``max_horizontal_delta_m``,
   whatever the covariances say (a long dead-reckoning stretch inflates the prediction until
   almost anything passes the innovation gate; a spoofer must not be able to exploit that).
3. Drift (displacement consistency) test, horizontal (2 dof). While GNSS is trusted and fused, a
   slowly drifting spoof drags the estimate along, so its innovation stays small. The test
   therefore compares GNSS with a *GNSS-independent* reference: over a sliding window
   (``drift_window_s``, at least ``drift_min_window_s``) the GNSS displacement ``z(t) - z(t-W)``
   must match the VIO displacement over the same interval (VIO increments rotated into the map
   frame with the estimated attitude, supplied by the facade as a cumulative ``ReferencePoint``).
   The difference is tested against ``chi2_2(drift_probability)`` using
   ``R(t) + R(t-W) + Sigma_vio(W) + [d_vio]x P_theta [d_vio]x^T + (fraction * |d_vio|)^2 I``:
   the two fixes' covariances, the VIO increments' accumulated covariance, the estimated attitude
   uncertainty (a heading error rotates the whole reference displacement) and a VIO scale term.
   A drift of ``v`` m/s shows as ``v * min(age, W)`` metres of discrepancy, so the
   detection delay is about ``threshold_m / v``. Without a continuous VIO chain over the window
   (VIO reset, gap, no VIO) the drift test falls back to an **inertial reference** (below).

Inertial reference (no usable VIO chain). The facade keeps free-inertial copies of the
navigation state (estimator.inertial_reference): a copy of the estimate propagated with the same
IMU samples and no update at all, its position covariance starting at zero, so the propagated
position covariance *is* the covariance of the inertial displacement since its start. The GNSS
displacement since the fix nearest the chain start is tested against it with
``R(t) + R(t0) + Sigma_ins(t) - Sigma_ins(t0)`` and ``chi2_2(inertial_probability)``; the oldest
chain with ``drift_min_window_s`` of history is used. A copy that saw accelerometer clipping is
dropped by the facade (its displacement is wrong by the clipped specific force): the test then
waits for a clean copy instead of raising a false alarm. A spoof ramping in below the
accelerometer-bias uncertainty over the window stays indistinguishable from truth.

First acquisition (``first_fix_distance_only``, the default): until GNSS has been TRUSTED once
since the estimator (re)started, only the distance bound applies. The take-off origin was itself
surveyed from GNSS and the estimate has no independent absolute reference yet; judging the first
fixes against a VIO-only estimate flown on a compass heading would let one unlucky heading error
lock GNSS out for the whole flight. After the first trust every check applies.

Recovery (after a denial or a rejection). The innovation check is never switched off after the
first trust: returning GNSS must lie within the estimate's own uncertainty (chi2_2 at
``innovation_probability``, 3.7 sigma at 0.999), move like VIO (or the free-inertial copy) over
the drift window, and stay so for ``dwell_s``. A rejection is therefore not permanent for a
genuine receiver: the estimate's covariance grows honestly while GNSS is not fused (VIO and IMU
noise, estimator.vio_fusion), so a genuine fix passes once the estimate's error is within its
gate, which holds as long as that covariance is honest (the NEES tests check it). What this
rule does not cover, by construction: an attacker who jams, then spoofs with an offset smaller
than ~3.7 sigma of the estimate, or who moves GNSS exactly as the estimate's own drift (VIO
scale/heading drift) moves it, is indistinguishable from the truth without an independent
absolute source (GeoFix); the error it can induce is bounded by that gate. Jam-then-spoof with a
larger constant offset (30-200 m after a VIO-aided denial) fails the innovation check forever,
and an offset beyond ``max_horizontal_delta_m`` fails the distance bound whatever the covariance.

Transitions: a consistent sample moves UNAVAILABLE/REJECTED to PROBATION and, once consistent
samples have spanned ``dwell_s``, PROBATION to TRUSTED; any inconsistent sample moves every
state to REJECTED and resets the dwell; no sample for ``timeout_s`` moves to UNAVAILABLE. Only a
consistent sample decided in TRUSTED is fused. The gate is pure: no clock, no I/O, stamps in ns.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from gps_denied_onboard.common.inertial import FloatArray
from gps_denied_onboard.estimator.config import GateConfig

NS_PER_S = 1_000_000_000


class GnssTrust(enum.IntEnum):
    """GNSS trust, with the values of EstimatorStatus.GNSS_*."""

    UNAVAILABLE = 0
    TRUSTED = 1
    PROBATION = 2
    REJECTED = 3


class GnssCheck(str, enum.Enum):
    """Which check a GNSS sample failed."""

    INNOVATION = "innovation"
    HORIZONTAL_DELTA = "horizontal_delta"
    DRIFT = "drift"


@dataclass(frozen=True)
class GnssSample:
    """A validated GNSS fix in the map frame (ENU at the origin)."""

    t_ns: int
    position_m: FloatArray  # (3,)
    covariance_m2: FloatArray  # (3, 3)


@dataclass(frozen=True)
class ReferencePoint:
    """The GNSS-independent (VIO) displacement accumulated in map axes up to a sample's stamp.

    Only differences between two points of the same ``chain_id`` mean anything; the facade starts
    a new chain whenever the VIO odometry breaks (reset, jump, gap).
    """

    position_m: FloatArray  # (3,) cumulative displacement, map axes
    covariance_m2: FloatArray  # (3, 3) cumulative covariance of that displacement
    chain_id: int
    attitude_covariance_rad2: FloatArray  # (3, 3) map-frame attitude error covariance of the estimate


@dataclass(frozen=True)
class TrustTransition:
    """A change of GNSS trust (an FDR event and an EstimatorStatus change)."""

    t_ns: int
    previous: GnssTrust
    current: GnssTrust
    reason: str


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict on one GNSS sample."""

    t_ns: int
    fuse: bool  # consistent and trusted: hand it to the backend
    consistent: bool
    fuse_vertical: bool  # its height passed the vertical check (else only east/north are fused)
    vertical_mahalanobis: float
    trust: GnssTrust  # after this sample
    failed: GnssCheck | None
    reason: str  # why it is inconsistent (empty when consistent)
    mahalanobis: float  # innovation, sqrt(nu^T S^-1 nu)
    horizontal_delta_m: float
    drift_mahalanobis: float  # NaN when the drift test could not run
    drift_window_s: float  # NaN when the drift test could not run
    drift_discrepancy_m: float  # horizontal |GNSS displacement - reference displacement|; NaN without the test
    dwell_s: float
    transitions: tuple[TrustTransition, ...]  # in order; usually none or one


@dataclass(frozen=True)
class _History:
    t_ns: int
    position_m: FloatArray
    covariance_m2: FloatArray
    reference: ReferencePoint | None
    inertial: Mapping[int, ReferencePoint]


def _mahalanobis(residual: FloatArray, covariance: FloatArray) -> float:
    try:
        return math.sqrt(max(float(residual @ np.linalg.solve(covariance, residual)), 0.0))
    except np.linalg.LinAlgError:
        return math.inf


class GnssTrustGate:
    """The GNSS trust state machine (see the module docstring for the checks and transitions)."""

    def __init__(self, config: GateConfig) -> None:
        self._config = config
        self._innovation_threshold = math.sqrt(float(chi2.ppf(config.innovation_probability, 2)))
        self._vertical_threshold = math.sqrt(float(chi2.ppf(config.vertical_probability, 1)))
        self._drift_threshold = math.sqrt(float(chi2.ppf(config.drift_probability, 2)))
        self._inertial_threshold = math.sqrt(float(chi2.ppf(config.inertial_probability, 2)))
        self._history: deque[_History] = deque()
        self.reset()

    @property
    def trust(self) -> GnssTrust:
        """The current trust state."""
        return self._trust

    @property
    def innovation_threshold(self) -> float:
        """Mahalanobis distance above which the innovation check fails."""
        return self._innovation_threshold

    @property
    def drift_threshold(self) -> float:
        """Mahalanobis distance above which the drift check fails."""
        return self._drift_threshold

    def dwell_s(self) -> float:
        """Consistent GNSS time accumulated toward promotion (0 unless in PROBATION)."""
        if self._trust is not GnssTrust.PROBATION or self._dwell_start_ns is None or self._last_ns is None:
            return 0.0
        return (self._last_ns - self._dwell_start_ns) / NS_PER_S

    def reset(self) -> None:
        """Forget everything (estimator reset): UNAVAILABLE, no history."""
        self._trust = GnssTrust.UNAVAILABLE
        self._ever_trusted = False
        self._dwell_start_ns: int | None = None
        self._last_ns: int | None = None
        self._history.clear()

    def check_timeout(self, t_ns: int) -> TrustTransition | None:
        """UNAVAILABLE when no sample arrived for ``timeout_s`` before ``t_ns``; the transition if one happened."""
        if self._trust is GnssTrust.UNAVAILABLE or self._last_ns is None:
            return None
        silent_s = (t_ns - self._last_ns) / NS_PER_S
        if silent_s <= self._config.timeout_s:
            return None
        return self._move(t_ns, GnssTrust.UNAVAILABLE, f"no GNSS sample for {silent_s:.2f} s")

    def assess(
        self,
        sample: GnssSample,
        prior_position_m: FloatArray,
        prior_covariance_m2: FloatArray,
        reference: ReferencePoint | None,
        inertial: Mapping[int, ReferencePoint] | None = None,
    ) -> GateDecision:
        """Check one sample against the prediction and the VIO (else inertial) reference; step the state machine.

        ``inertial`` maps each live free-inertial chain id to its point at the sample's stamp.
        """
        config = self._config
        timeout = self.check_timeout(sample.t_ns)
        innovation = sample.position_m - prior_position_m
        covariance = prior_covariance_m2 + sample.covariance_m2
        mahalanobis = _mahalanobis(innovation[:2], covariance[:2, :2])
        vertical_variance = float(covariance[2, 2]) + config.vertical_extra_sigma_m**2
        vertical_mahalanobis = abs(float(innovation[2])) / math.sqrt(vertical_variance)
        horizontal_delta_m = float(math.hypot(innovation[0], innovation[1]))
        inertial = dict(inertial or {})
        self._prune(sample.t_ns)
        drift_mahalanobis, drift_window_s, discrepancy_m, drift_text = self._drift_test(sample, reference)
        drift_threshold = self._drift_threshold
        if math.isnan(drift_mahalanobis):
            drift_mahalanobis, drift_window_s, discrepancy_m, drift_text = self._inertial_test(sample, inertial)
            drift_threshold = self._inertial_threshold

        failed: GnssCheck | None = None
        reason = ""
        # First acquisition: the origin itself came from GNSS and nothing independent can outvote it yet.
        acquiring = config.first_fix_distance_only and not self._ever_trusted
        if horizontal_delta_m > config.max_horizontal_delta_m:
            failed = GnssCheck.HORIZONTAL_DELTA
            reason = f"horizontal delta {horizontal_delta_m:.1f} m > {config.max_horizontal_delta_m:g} m"
        elif acquiring:
            pass
        elif not mahalanobis <= self._innovation_threshold:
            failed = GnssCheck.INNOVATION
            reason = (
                f"horizontal innovation mahalanobis {mahalanobis:.2f} > {self._innovation_threshold:.2f} "
                f"(|nu_h| {horizontal_delta_m:.1f} m)"
            )
        elif drift_mahalanobis > drift_threshold:
            failed = GnssCheck.DRIFT
            reason = drift_text

        self._history.append(_History(sample.t_ns, sample.position_m, sample.covariance_m2, reference, inertial))
        self._last_ns = sample.t_ns
        transitions = ([timeout] if timeout else []) + self._step(sample.t_ns, failed is None, reason)
        return GateDecision(
            t_ns=sample.t_ns,
            fuse=failed is None and self._trust is GnssTrust.TRUSTED,
            consistent=failed is None,
            fuse_vertical=acquiring or vertical_mahalanobis <= self._vertical_threshold,
            vertical_mahalanobis=vertical_mahalanobis,
            trust=self._trust,
            failed=failed,
            reason=reason,
            mahalanobis=mahalanobis,
            horizontal_delta_m=horizontal_delta_m,
            drift_mahalanobis=drift_mahalanobis,
            drift_window_s=drift_window_s,
            drift_discrepancy_m=discrepancy_m,
            dwell_s=self.dwell_s(),
            transitions=tuple(transitions),
        )

    def _prune(self, t_ns: int) -> None:
        config = self._config
        keep_ns = round(max(config.drift_window_s, config.inertial_window_s) * NS_PER_S)
        while self._history and t_ns - self._history[0].t_ns > keep_ns:
            self._history.popleft()

    def _drift_test(self, sample: GnssSample, reference: ReferencePoint | None) -> tuple[float, float, float, str]:
        """Mahalanobis distance, window and size of (GNSS displacement - VIO displacement), or NaNs."""
        config = self._config
        if reference is None:
            return math.nan, math.nan, math.nan, ""
        window_ns = round(config.drift_window_s * NS_PER_S)
        min_window_ns = round(config.drift_min_window_s * NS_PER_S)
        base = next(
            (
                entry
                for entry in self._history
                if entry.reference is not None
                and entry.reference.chain_id == reference.chain_id
                and min_window_ns <= sample.t_ns - entry.t_ns <= window_ns
            ),
            None,
        )
        if base is None or base.reference is None:
            return math.nan, math.nan, math.nan, ""
        gnss_displacement = sample.position_m - base.position_m
        vio_displacement = reference.position_m - base.reference.position_m
        scale_sigma = config.reference_drift_fraction * float(np.linalg.norm(vio_displacement))
        # An attitude error dtheta moves the rotated reference by dtheta x d, i.e. J = -[d]x; np.cross
        # gives [d]x^T = -[d]x row by row (and the sign cancels in J P J^T anyway).
        jacobian = np.cross(vio_displacement, np.eye(3))
        covariance = (
            sample.covariance_m2
            + base.covariance_m2
            + (reference.covariance_m2 - base.reference.covariance_m2)
            + jacobian @ reference.attitude_covariance_rad2 @ jacobian.T
            + np.eye(3) * scale_sigma**2
        )
        discrepancy = (gnss_displacement - vio_displacement)[:2]
        distance = _mahalanobis(discrepancy, covariance[:2, :2])
        window_s = (sample.t_ns - base.t_ns) / NS_PER_S
        text = (
            f"drift: GNSS moved {float(np.linalg.norm(discrepancy)):.1f} m unlike VIO over {window_s:.1f} s "
            f"(mahalanobis {distance:.2f} > {self._drift_threshold:.2f})"
        )
        return distance, window_s, float(np.linalg.norm(discrepancy)), text

    def _inertial_test(
        self, sample: GnssSample, inertial: Mapping[int, ReferencePoint]
    ) -> tuple[float, float, float, str]:
        """As ``_drift_test`` against the free-inertial displacement, or NaNs without a chain."""
        min_window_ns = round(self._config.drift_min_window_s * NS_PER_S)
        # The oldest entry of each chain is its start (or the first fix after it): the longest window.
        best: tuple[_History, ReferencePoint, ReferencePoint] | None = None
        for entry in self._history:
            if sample.t_ns - entry.t_ns < min_window_ns:
                break
            for chain_id, base_point in entry.inertial.items():
                if chain_id in inertial and (best is None or entry.t_ns < best[0].t_ns):
                    best = (entry, base_point, inertial[chain_id])
            if best is not None:
                break
        if best is None:
            return math.nan, math.nan, math.nan, ""
        base, base_point, point = best
        covariance = sample.covariance_m2 + base.covariance_m2 + (point.covariance_m2 - base_point.covariance_m2)
        discrepancy = ((sample.position_m - base.position_m) - (point.position_m - base_point.position_m))[:2]
        distance = _mahalanobis(discrepancy, covariance[:2, :2])
        window_s = (sample.t_ns - base.t_ns) / NS_PER_S
        text = (
            f"drift: GNSS moved {float(np.linalg.norm(discrepancy)):.1f} m unlike the free-inertial IMU "
            f"reference over {window_s:.1f} s (mahalanobis {distance:.2f} > {self._inertial_threshold:.2f})"
        )
        return distance, window_s, float(np.linalg.norm(discrepancy)), text

    def _step(self, t_ns: int, consistent: bool, reason: str) -> list[TrustTransition]:
        if not consistent:
            self._dwell_start_ns = None
            return [] if self._trust is GnssTrust.REJECTED else [self._move(t_ns, GnssTrust.REJECTED, reason)]
        transitions = []
        if self._trust in (GnssTrust.UNAVAILABLE, GnssTrust.REJECTED):
            self._dwell_start_ns = t_ns
            transitions.append(self._move(t_ns, GnssTrust.PROBATION, "consistent GNSS: dwell started"))
        if self._trust is GnssTrust.PROBATION and self._dwell_start_ns is not None:
            dwell_s = (t_ns - self._dwell_start_ns) / NS_PER_S
            if dwell_s >= self._config.dwell_s:
                transitions.append(self._move(t_ns, GnssTrust.TRUSTED, f"consistent for {dwell_s:.1f} s"))
        return transitions

    def _move(self, t_ns: int, new: GnssTrust, reason: str) -> TrustTransition:
        transition = TrustTransition(t_ns=t_ns, previous=self._trust, current=new, reason=reason)
        self._trust = new
        self._ever_trusted = self._ever_trusted or new is GnssTrust.TRUSTED
        if new is not GnssTrust.PROBATION:
            self._dwell_start_ns = None
        return transition
