"""Copy text to the system clipboard through whatever tool the machine has, or say there is none.

Python has no portable clipboard API and no clipboard package is a dependency, so
the demo uses the platform's command-line tool: wl-copy on Wayland, xclip or xsel
on X11, pbcopy on macOS, clip on Windows. Without one, copying reports why instead
of failing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping

UNAVAILABLE = "no clipboard tool found (install wl-clipboard, xclip or xsel)"


def clipboard_command(
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str] | None:
    """The command that reads text on stdin into the clipboard here, or None if there is none."""
    env = os.environ if env is None else env
    candidates: list[list[str]] = []
    if platform == "darwin":
        candidates.append(["pbcopy"])
    elif platform == "win32":
        candidates.append(["clip"])
    else:
        if env.get("WAYLAND_DISPLAY"):
            candidates.append(["wl-copy"])
        if env.get("DISPLAY"):
            candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    return next((c for c in candidates if which(c[0])), None)


class Clipboard:
    """Copies text with the command found at start-up; ``copy`` returns a message for the screen."""

    def __init__(self, command: list[str] | None = None, platform: str = sys.platform):
        self.command = command
        # clip.exe reads UTF-16; the others UTF-8 (pbcopy only if told the locale)
        self.encoding = "utf-16-le" if platform == "win32" else "utf-8"

    @classmethod
    def detect(cls) -> Clipboard:
        return cls(clipboard_command())

    @property
    def available(self) -> bool:
        return self.command is not None

    def copy(self, text: str) -> str:
        if self.command is None:
            return f"cannot copy {text}: {UNAVAILABLE}"
        try:
            subprocess.run(
                self.command,
                input=text.encode(self.encoding),
                check=True,
                timeout=3,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "LC_CTYPE": "UTF-8"},
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot copy {text}: {self.command[0]} failed ({exc.__class__.__name__})"
        return f"copied {text} to the clipboard"
