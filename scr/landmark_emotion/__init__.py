"""Facial-emotion recognition from face-mesh landmarks: the library behind the scripts in ``scr/``."""
