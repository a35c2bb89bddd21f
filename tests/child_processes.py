"""What the tests' child processes share: they heed every stop signal, however the test run was started."""

from __future__ import annotations

import signal

from landmark_emotion.signals import SIGNALS


def heed_all_signals() -> None:
    """In the child: a test run in the background (``pytest &``) ignores SIGINT, one under ``nohup`` SIGHUP, and
    the child would inherit that (a test that stops it with that signal would wait for it in vain)."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
