"""What the commands in ``scr/`` share: start-up, their console entry points, argument types, one ``error:`` line.

The top floor beside :mod:`landmark_emotion.api`: nothing else in the package imports it.
"""
