"""The on-disk kernel cache: one file per compiled program, under the user cache dir, written atomically."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    return Path(os.environ.get("GRADC_CACHE_DIR") or platformdirs.user_cache_dir("gradc"))


class DiskCache:
    """Entries are keyed by a hash of the source and of everything that changes the binary (the `ident`:
    platform, device, driver, compiler and gradc versions, build options)."""

    def __init__(self, backend: str, ident: str):
        self.dir = cache_root() / backend / ident
        self.enabled = os.environ.get("GRADC_DISK_CACHE", "1") != "0"

    def _path(self, source: str) -> Path:
        return self.dir / (hashlib.sha256(source.encode()).hexdigest() + ".bin")

    def get(self, source: str) -> bytes | None:
        if not self.enabled:
            return None
        try:
            data = self._path(source).read_bytes()
        except OSError:
            return None
        return data or None

    def put(self, source: str, binary: bytes) -> None:
        if not self.enabled or not binary:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(binary)
            os.replace(tmp, self._path(source))  # atomic: readers see the old entry or the whole new one
        except OSError:  # a read-only or full cache dir only costs a rebuild next time
            pass

    def drop(self, source: str) -> None:
        try:
            self._path(source).unlink()
        except OSError:
            pass


def entries() -> list[Path]:
    root = cache_root()
    return sorted(p for p in root.rglob("*.bin")) if root.exists() else []


def clear() -> int:
    files = entries()
    for p in files:
        p.unlink(missing_ok=True)
    return len(files)
