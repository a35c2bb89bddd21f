"""Where commands write: never over their own inputs, checked before the work, replaced atomically.

- :func:`check_outputs` refuses an output path that is (symlinks and hard links followed),
  contains, or lies inside one of the command's inputs, or that two outputs share, even
  with ``--force``: ``--output clip.mp4`` must not destroy ``--source clip.mp4``.
- :func:`check_writable` tries the output's folder before hours of work, not after.
- :func:`save_npz` writes arrays as ``.npz`` and closes the file even when the disk fills.
- :func:`write_file` writes a file through a temporary one renamed into place, and
  :func:`replace_folder` swaps a finished folder with an existing one in one atomic step
  (Linux ``renameat2(RENAME_EXCHANGE)``), so a kill at any instant leaves the old or the new
  one in place. Where the exchange is unavailable the old folder is first renamed to a
  fixed backup name, which :func:`recover` puts back if the kill came in between: the next
  writer of the same place does, and says so (readers never touch it). Temporary folders
  carry their writer's process id; those of dead writers are removed by the next write to
  the same place.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO

import numpy as np

from landmark_emotion.errors import LandmarkEmotionError

OLD_SUFFIX = ".old"
TMP_SUFFIX = ".tmp"


class OutputError(LandmarkEmotionError, ValueError):
    """An output that would overwrite an input, or that cannot be written."""


# ---------------------------------------------------------------- checks before the work


def _paths(value) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    return [Path(v) for v in value if v is not None]


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _inside(inner: Path, outer: Path) -> bool:
    return outer.resolve() in inner.resolve().parents


def check_outputs(inputs: Mapping[str, object], outputs: Mapping[str, object], whole: Iterable[str] = ()) -> None:
    """Refuse outputs that would overwrite or replace an input, or each other (``{flag: path(s)}``).

    An output is refused when it is an input, when it is a folder that holds an input
    (a replaced bundle folder would take the input with it), and when it lies inside an
    input folder of a flag in ``whole``: a folder read as one thing (a bundle, a folder of
    sessions), which a file added inside would change.
    """
    whole = set(whole)
    ins = [(flag, path) for flag, value in inputs.items() for path in _paths(value)]
    outs = [(flag, path) for flag, value in outputs.items() for path in _paths(value)]
    for i, (flag, out) in enumerate(outs):
        for in_flag, source in ins:
            if _same(out, source):
                raise OutputError(
                    f"{flag} {out} is the input {in_flag} {source}: it would be overwritten; choose another {flag}"
                )
            if _inside(source, out):
                raise OutputError(
                    f"{flag} {out} holds the input {in_flag} {source}: writing it would replace "
                    f"that input; choose another {flag}"
                )
            if in_flag in whole and _inside(out, source):
                raise OutputError(f"{flag} {out} is inside the input folder {in_flag} {source}; choose another {flag}")
        for other_flag, other in outs[i + 1 :]:
            if _same(out, other) or _inside(out, other) or _inside(other, out):
                raise OutputError(f"{flag} {out} and {other_flag} {other} are the same place; give each its own")


def refuse_existing(
    path: str | os.PathLike,
    force: bool,
    error: type[Exception] = OutputError,
    flag: str | None = "--out",
    force_flag: str = "--force",
) -> None:
    """Refuse an output that exists unless ``force``: nothing is replaced without being asked (raises ``error``,
    naming ``force_flag`` as the way to replace it and ``flag`` as the way to choose another place)."""
    if Path(path).exists() and not force:
        other = f", or choose another {flag}" if flag else ""
        raise error(f"{path} exists; pass {force_flag} to replace it{other}")


def check_writable(path: str | os.PathLike, into: bool = False) -> None:
    """Make sure ``path`` can be written (``into``: files can be created inside the folder ``path``).

    Missing parent folders are created; an existing output that is a folder (where a file
    goes) or a read-only file is refused.
    """
    path = Path(path)
    folder = path if into else path.parent
    try:
        if not into and path.is_dir():
            raise OutputError(f"cannot write {path}: it is a folder")
        if not into and path.exists() and not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {path}: it is read-only")
        if not into and path.exists() and not path.is_file():
            return  # a device or a pipe (/dev/stdout) is written where it is, not through a new file
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder} ({exc.strerror or exc}); choose another place") from None


def check_writable_folder(path: str | os.PathLike) -> None:
    """Make sure a folder output (a bundle) can be written: it is built beside ``path``, then swapped in."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {path}: it is a file, not a folder")
    check_writable(path.parent, into=True)


# ---------------------------------------------------------------- atomic writes


def _remove(path: Path) -> None:
    """Remove a file, a symlink or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temporary_name(path: Path) -> str:
    """Prefix of a temporary sibling of ``path``: hidden, with the writer's process id."""
    return f".{path.name}.{os.getpid()}."


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by writers that no longer run (killed mid-write); return them."""
    path = Path(path)
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.iterdir():
        if not entry.name.startswith(f".{path.name}."):
            continue
        pid, _, rest = entry.name[len(path.name) + 2 :].partition(".")
        if pid.isdigit() and TMP_SUFFIX in rest and not _pid_alive(int(pid)):
            _remove(entry)
            removed.append(entry)
    return removed


def save_npz(file: str | os.PathLike | IO[bytes], arrays: Mapping[str, object], compress: bool = True) -> None:
    """Write ``arrays`` as an ``.npz`` (as ``np.savez_compressed`` does; ``np.load`` reads it, no pickles).

    NumPy leaves its zip file to the garbage collector when a write fails; on a full disk
    that prints "Exception ignored in ZipFile.__del__" after the command's error line. Here
    the zip file is closed whatever happens.
    """
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, "w", method, allowZip64=True) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def write_file(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` by calling ``write(temporary path)`` and renaming the result into place.

    The temporary file keeps ``path``'s suffix (``savefig`` picks its format from it). A path
    that exists but is not a regular file (``/dev/stdout``, a pipe) is written directly.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        write(path)
        return path
    remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_name(path), suffix=f"{TMP_SUFFIX}{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes it private; the output is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def temporary_folder(path: str | os.PathLike) -> Path:
    """A new empty folder next to ``path`` to build a replacement in, after removing dead writers' leftovers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_before_writing(path)
    remove_leftovers(path)
    return Path(tempfile.mkdtemp(prefix=temporary_name(path), suffix=TMP_SUFFIX, dir=path.parent))


def backup_of(path: str | os.PathLike) -> Path:
    """Where :func:`replace_folder` keeps the old ``path`` between its two renames (where the exchange is missing)."""
    path = Path(path)
    return path.parent / f".{path.name}{OLD_SUFFIX}"


def recover(path: str | os.PathLike) -> str | None:
    """Finish or undo a replace of ``path`` that was killed between its two renames; say what was done.

    For the writer of ``path`` only, before it writes: a reader that did this could delete a
    folder from under a replace still running, and would do it without a word.
    """
    path = Path(path)
    backup = backup_of(path)
    if not backup.is_dir():
        return None
    if os.path.lexists(path):
        _remove(backup)
        return f"removed {backup}, left by an interrupted replace of {path}"
    os.rename(backup, path)
    return f"restored {path} from {backup}: its replacement had been interrupted"


def recover_before_writing(path: str | os.PathLike) -> None:
    """:func:`recover` for a writer that has no console of its own (the library): what it did comes as a warning.

    The commands call :func:`recover` first, before their checks, and print what it says.
    """
    message = recover(path)
    if message:
        warnings.warn(message, stacklevel=3)


def _load_renameat2():
    try:
        function = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step; False where the system or filesystem cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: not supported here
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_folder(new: Path, path: Path) -> None:
    """Move the finished folder ``new`` to ``path``; an existing ``path`` is swapped out and then removed."""
    recover_before_writing(path)
    if not os.path.lexists(path):
        os.rename(new, path)  # fails rather than merge if someone created a non-empty `path` meanwhile
        return
    if exchange(new, path):  # `new` now holds the old folder (or the symlink that stood at `path`)
        _remove(new)
        return
    backup = backup_of(path)
    os.rename(path, backup)
    os.rename(new, path)
    _remove(backup)


def existing_inputs(values: Iterable[str | None]) -> list[Path]:
    """The paths among ``values`` that exist (a ``--source`` may be a camera index instead)."""
    return [Path(v) for v in values if v is not None and os.path.exists(v)]
