"""Pure geometry: rigid transforms between the graph's frames (numpy, no ROS)."""
