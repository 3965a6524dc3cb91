"""Writing files safely: names that stay inside their directory, and writes that are atomic."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from packsync.errors import PacksyncError

_UNSAFE = re.compile(r"[^a-z0-9-]+")
# Names Windows reserves whatever the extension; refusing them keeps a repository portable.
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})
MAX_STEM = 100
STATE_DIR = ".packsync"  # a project's local state; never committed


class UnsafePath(PacksyncError, ValueError):
    pass


def safe_file_name(slug: str, suffix: str = ".yaml") -> str:
    """A file name for a slug: only a-z, 0-9 and '-', never empty, reserved, hidden or a path."""
    stem = _UNSAFE.sub("-", slug.lower()).strip("-")[:MAX_STEM].strip("-")
    if not stem:
        stem = "pack"
    if stem in _RESERVED:
        stem = f"{stem}-pack"
    return stem + suffix


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, refusing anything that would land elsewhere (``..``, absolute paths, symlinks)."""
    if not name or "\x00" in name or "/" in name or "\\" in name or name in (".", ".."):
        raise UnsafePath(f"refusing the file name {name!r}")
    base = directory.resolve()
    target = base / name
    if target.is_symlink():
        raise UnsafePath(f"refusing to write through the symbolic link {target}")
    if target.resolve().parent != base:
        raise UnsafePath(f"{name!r} would be written outside {directory}")
    return target


def state_dir(project_root: Path) -> Path:
    """The project's local state directory, created with a ``.gitignore`` that ignores all of it."""
    directory = project_root / STATE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# packsync's local state (the embedded sandbox's database, preview contact sheets)\n*\n")
    return directory


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either the old file or the whole new one, never half of it."""
    directory = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
