"""The emotion model: preprocessing, the NumPy engine, calibration references, the sealed bundle, the model object.

Loading and predicting never import TensorFlow; :mod:`landmark_emotion.training` makes models.
"""
