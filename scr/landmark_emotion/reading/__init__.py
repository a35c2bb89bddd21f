"""Frames in, each face's emotion out: the per-frame pipeline with its tracking, smoothing and neutral references.

What the demo, the web page and the Python API all read with, so they answer alike.
"""
