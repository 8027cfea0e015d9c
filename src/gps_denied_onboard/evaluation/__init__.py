"""Trajectory evaluation (``onboard eval``): the pure core, no rclpy and no evo.

``trajectory`` holds the pose-series value type (bag topic and TUM file I/O), ``phases`` the
scenario windows and estimator status series, ``bag_input`` reads them from a rosbag2 bag,
``associate`` pairs stamps, ``align`` does Umeyama/origin alignment, ``metrics`` computes
ATE/RPE/drift, per-phase slices and spoof detection latency, ``pipeline`` runs it all on a
bag or TUM files, and ``report``/``plots`` write ``report.json``, the text table and PNGs.
Numbers follow evo's definitions (cross-checked against its CLI in the tests); evo itself,
GPL-3.0, is never imported here.
"""
