"""The five nodes of the graph: executable names and the topics each one uses."""

from __future__ import annotations

from dataclasses import dataclass

from gps_denied_onboard.graph.frames import Frame
from gps_denied_onboard.graph.topics import Topic


@dataclass(frozen=True)
class NodeSpec:
    """A node: its ROS name (also its executable in lib/onboard), its topic interface, the
    parameter file (in share/onboard/config) it reads, its remappings, and its place in the
    start/stop order."""

    name: str
    component: str
    publishes: tuple[Topic, ...]
    subscribes: tuple[Topic, ...]
    subscribes_all: bool = False  # the FDR discovers and records every topic of the graph
    params_file: str = "flight.yaml"  # in share/onboard/config: where this node's section lives
    remappings: tuple[tuple[str, str], ...] = ()  # (from, to) topic names, both declared in TOPICS
    stop_last: bool = False  # started first, stopped last: records everyone's final WARN/ERROR
    broadcasts_tf: tuple[tuple[Frame, Frame], ...] = ()  # (parent, child) transforms this node owns on /tf

    @property
    def executable(self) -> str:
        """Executable name installed into lib/onboard."""
        return self.name


NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        name="vio_node",
        component="C1 visual-inertial odometry",
        publishes=(Topic.VIO_ODOMETRY, Topic.VIO_HEALTH, Topic.VIO_LANDMARKS, Topic.DIAGNOSTICS),
        subscribes=(Topic.CAMERA_IMAGE, Topic.CAMERA_INFO, Topic.IMU),
        broadcasts_tf=((Frame.ODOM, Frame.BASE_LINK), (Frame.BASE_LINK, Frame.CAMERA)),
    ),
    NodeSpec(
        name="state_estimator_node",
        component="C5 state estimator",
        publishes=(
            Topic.STATE_ODOMETRY,
            Topic.STATE_NAVSAT,
            Topic.STATE_STATUS,
            Topic.STATE_PATH,
            Topic.EVENTS,
            Topic.DIAGNOSTICS,
        ),
        subscribes=(Topic.IMU, Topic.VIO_ODOMETRY, Topic.VIO_HEALTH, Topic.GEOFIX, Topic.GNSS_FIX, Topic.BARO),
        broadcasts_tf=((Frame.MAP, Frame.ODOM),),
    ),
    NodeSpec(
        name="inference_node",
        component="C7 map-matching inference",
        publishes=(Topic.GEOFIX, Topic.GEOFIX_MARKERS, Topic.THERMAL, Topic.DIAGNOSTICS),
        subscribes=(Topic.CAMERA_IMAGE, Topic.CAMERA_INFO, Topic.STATE_ODOMETRY, Topic.TILE_STATUS),
    ),
    NodeSpec(
        name="tile_manager_node",
        component="C6 + C11 tile cache and snapshot upload",
        publishes=(Topic.TILE_STATUS, Topic.UPLOAD_STATUS, Topic.DIAGNOSTICS),
        subscribes=(Topic.FLIGHT_STATE, Topic.STATE_NAVSAT),
    ),
    NodeSpec(
        name="fdr_node",
        component="C13 flight data recorder",
        publishes=(Topic.FDR_STATUS, Topic.DIAGNOSTICS),
        subscribes=(),
        subscribes_all=True,
        stop_last=True,
    ),
)

_BY_NAME = {spec.name: spec for spec in NODES}


def node_spec(name: str) -> NodeSpec:
    """Return the declaration of the node called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown node {name!r}; declared nodes: {sorted(_BY_NAME)}") from None


def start_order(nodes: tuple[NodeSpec, ...] = NODES) -> list[NodeSpec]:
    """Start order: nodes that stop last start first (the recorder is up before anyone else)."""
    return sorted(nodes, key=lambda n: not n.stop_last)


def stop_order(nodes: tuple[NodeSpec, ...] = NODES) -> list[NodeSpec]:
    """Stop order: the reverse of the start order."""
    return list(reversed(start_order(nodes)))
