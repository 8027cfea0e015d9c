"""C5 state estimator core: the StateEstimator facade, the GNSS trust gate and the fusion backends.

``core.StateEstimator`` owns the take-off origin, input validation, stamp ordering, the GNSS
spoofing gate, the source label and events; a backend (``eskf`` or ``isam2``, chosen through
``registry``) fuses the validated, time-ordered measurements. No module here imports rclpy.
"""
