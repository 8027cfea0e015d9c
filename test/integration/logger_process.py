"""Child process: a node that logs once at each level, then stays up so its /rosout samples are read.

Usage: python logger_process.py NODE_NAME SECONDS
"""

from __future__ import annotations

import sys
import time

import rclpy


def main() -> int:
    name, seconds = sys.argv[1], float(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node(name)
    logger = node.get_logger()
    logger.info("info: never recorded")
    logger.warning("gnss innovation 9.1 sigma: rejected")
    logger.error("vio lost: 3 features")
    print("LOGGED", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
