"""Facts shared by several components that none of them owns: IMU samples and noise, gravity,
and the parameter-table convention every component's config follows. Pure: no rclpy."""
