"""Starting the graph without `ros2 launch`: the launch plan and a process supervisor (no rclpy)."""
