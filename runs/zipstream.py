"""A zip archive produced piece by piece while it is sent: no temp file, bounded memory.

zipfile writes to any object with `write`; without `tell`/`seek` it uses data descriptors, so
the archive can go straight to the client. Videos are stored (they do not compress); text is
deflated.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

CHUNK_SIZE = 1024 * 1024
STORED_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".jpg", ".jpeg", ".png", ".zip"}


class _Sink:
    """Collects what zipfile writes until the generator hands it on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            yield data


def zip_chunks(entries: Iterable[tuple[str, Path]]) -> Iterator[bytes]:
    """The bytes of a zip holding each (name in the archive, file on disk) of `entries`."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w") as archive:
        for arcname, path in entries:
            info = zipfile.ZipInfo.from_file(path, arcname)
            stored = path.suffix.lower() in STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            with open(path, "rb") as source, archive.open(info, mode="w", force_zip64=True) as target:
                while chunk := source.read(CHUNK_SIZE):
                    target.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()
