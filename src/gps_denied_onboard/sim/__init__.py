"""Flight simulator: ground imagery, camera rendering, trajectories and synthetic sensors (pure core, no ROS).

``orthophoto`` holds the georeferenced ground (GeoTIFF or procedural) and the map-matching
scenario options; ``camera`` the pinhole camera model and the renderer that images the ground.
"""
