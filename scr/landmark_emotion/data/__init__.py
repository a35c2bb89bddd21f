"""Labelled faces on disk: where labelled images come from, their extraction, and the landmark table.

Above :mod:`landmark_emotion.face` (a table stores what the feature pipeline reads); below the model.
"""
