"""A face in an image -> its feature vector: the one feature pipeline.

Landmarks (MediaPipe's graphs, a face mesh its caller owns, the search for faces in video),
the canonical face they are aligned to, the appearance of the aligned crop, and the
pose- and scale-free vector every model reads. Imports only the ground floor.
"""
