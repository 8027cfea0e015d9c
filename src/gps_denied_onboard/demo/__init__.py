"""The main job: simulate (or reuse) a flight, run the whole graph on it through replay, export the
recorded flight, evaluate it, and say what happened."""
