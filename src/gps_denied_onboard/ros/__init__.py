"""ROS 2 adapters: the only package of gps_denied_onboard that imports rclpy.

A node here does four things: declare its parameters, build a typed config, call its
pure core, convert messages.
"""
