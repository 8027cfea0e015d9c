"""C1 visual-inertial odometry: OpenCV front end, GTSAM fixed-lag back end (no rclpy)."""
