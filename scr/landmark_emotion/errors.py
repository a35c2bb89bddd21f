"""The project's exception types: every error it raises on purpose is a :class:`LandmarkEmotionError`.

So a caller can catch them all in one ``except`` clause, and tell them from a bug. Each
module's own error (``BundleError``, ``TableError``...) subclasses this and keeps its
built-in base (mostly ``ValueError``), so older ``except ValueError`` clauses still work.
This module imports nothing: every other one may import it.
"""


class LandmarkEmotionError(Exception):
    """An input, file or setting this library cannot use; the message is one sentence meant for the user."""


class ClosedError(LandmarkEmotionError, RuntimeError):
    """A reader, stream or face mesh used after it was closed."""


class InputError(LandmarkEmotionError, ValueError):
    """An argument given to the public API of the wrong type, dtype, shape or value, or a file that is not an image."""
