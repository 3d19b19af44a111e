"""Cut a byte stream (a container's stdout over SSH, in arbitrary chunks) into whole lines.

A line ends at `\\n`, `\\r\\n` or a lone `\\r`: tqdm redraws its bar with `\\r` and writes `\\n`
only when the bar is done, so treating `\\r` as an end of line is what lets progress reach
the log while a clip is still being generated. A multi-byte character or a `\\r\\n` split
across two chunks is put back together; undecodable bytes become U+FFFD.
"""

from __future__ import annotations

import codecs


class LineSplitter:
    """Feed chunks with `feed(data) -> lines`; call `close() -> lines` at the end of the stream."""

    def __init__(self, *, max_line_chars: int = 1_000_000):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._skip_lf = False  # the last chunk ended in \r: a \n starting the next one is its pair
        self.max_line_chars = max_line_chars

    def feed(self, data: bytes | str) -> list[str]:
        return self._split(data if isinstance(data, str) else self._decoder.decode(data))

    def close(self) -> list[str]:
        """The last line, when the stream ended without a newline."""
        lines = self._split(self._decoder.decode(b"", final=True))
        if self._pending:
            lines.append(self._pending)
            self._pending = ""
        return lines

    def _split(self, text: str) -> list[str]:
        if not text:
            return []
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        text = self._pending + text
        self._skip_lf = text.endswith("\r")
        parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = parts.pop()
        if len(self._pending) > self.max_line_chars:
            # A stream without newlines must not grow without bound: cut it into pieces.
            parts.append(self._pending)
            self._pending = ""
        return parts
