"""Making models: a base model from a landmark table, a personal one from a base and one person's recordings.

The only floor that imports TensorFlow (lazily, inside the functions that train).
"""
