"""Line numbers of keys in a TOML document, for error messages.

tomllib gives values but no positions, and tomlkit is too slow to load on
every run for a thousand-table file; errors are rare, so this light scanner
runs only when there is something to report. It knows enough TOML to find
where each key (including dotted keys and inline-table keys) is written.
"""

from __future__ import annotations

import re

__all__ = ["KeyLines"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[tuple[str, ...], int] = {}
        self.implied: dict[tuple[str, ...], int] = {}

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        chunk = self.text[self.pos : self.pos + n]
        self.line += chunk.count("\n")
        self.pos += n

    def skip_ws(self, newlines: bool = False) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in _WS or (newlines and ch in "\r\n"):
                self.advance()
            elif ch == "#":
                end = self.text.find("\n", self.pos)
                self.advance((end if end != -1 else len(self.text)) - self.pos)
            else:
                return

    def string(self) -> str:
        text = self.text
        for quote in ('"""', "'''"):
            if text.startswith(quote, self.pos):
                i = self.pos + 3
                while i < len(text) and not text.startswith(quote, i):
                    # Basic strings have escapes: a \""" inside one does not end it.
                    i += 2 if quote == '"""' and text[i] == "\\" else 1
                end = min(i, len(text))
                while text.startswith(quote[0], end + 3):  # up to two quotes may end the body
                    end += 1
                value = text[self.pos + 3 : end]
                self.advance(min(end + 3, len(text)) - self.pos)
                return value
        quote = text[self.pos]
        i = self.pos + 1
        out: list[str] = []
        while i < len(text) and text[i] not in (quote, "\n"):
            if quote == '"' and text[i] == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            out.append(text[i])
            i += 1
        self.advance(min(i + 1, len(text)) - self.pos)
        return "".join(out)

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_ws()
            ch = self.peek()
            if ch in ('"', "'"):
                parts.append(self.string())
            else:
                match = _BARE.match(self.text, self.pos)
                if not match:
                    break
                parts.append(match.group())
                self.advance(match.end() - self.pos)
            self.skip_ws()
            if self.peek() == ".":
                self.advance()
                continue
            break
        return tuple(parts)

    def value(self, path: tuple[str, ...]) -> None:
        self.skip_ws()
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.advance()
            while self.pos < len(self.text):
                self.skip_ws(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                before = self.pos
                self.value(path)
                if self.pos == before:
                    self.advance()
        elif ch == "{":
            self.advance()
            while self.pos < len(self.text):
                self.skip_ws(newlines=True)
                if self.peek() == "}":
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                line = self.line
                key = self.key()
                if not key:
                    self.advance()
                    continue
                self.record(path + key, line)
                self.skip_ws()
                if self.peek() == "=":
                    self.advance()
                self.value(path + key)
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.advance()

    def document(self) -> None:
        table: tuple[str, ...] = ()
        while self.pos < len(self.text):
            self.skip_ws(newlines=True)
            if self.pos >= len(self.text):
                break
            line = self.line
            if self.peek() == "[":
                double = self.text.startswith("[[", self.pos)
                self.advance(2 if double else 1)
                table = self.key()
                self.record(table, line)
                self.advance(2 if double else 1)
                continue
            key = self.key()
            if not key:  # not TOML we understand: skip the line
                end = self.text.find("\n", self.pos)
                self.advance((end if end != -1 else len(self.text)) - self.pos)
                continue
            self.record(table + key, line)
            self.skip_ws()
            if self.peek() == "=":
                self.advance()
            self.value(table + key)

    def record(self, path: tuple[str, ...], line: int) -> None:
        """The line of `path`; parent tables it implies get this line unless written out."""
        self.lines.setdefault(path, line)
        for end in range(1, len(path)):
            self.implied.setdefault(path[:end], line)


class KeyLines:
    """Maps TOML key paths to the line they are written on (1-based)."""

    def __init__(self, text: str) -> None:
        scanner = _Scanner(text)
        scanner.document()
        self._lines = {**scanner.implied, **scanner.lines}

    def line(self, *path: str) -> int | None:
        """The line of `path`, or of its nearest written ancestor (an implicit table)."""
        parts = tuple(path)
        while parts:
            if parts in self._lines:
                return self._lines[parts]
            parts = parts[:-1]
        return None

    def has(self, *path: str) -> bool:
        return tuple(path) in self._lines


def quick_line(text: str, table: tuple[str, ...], key: str) -> int | None:
    """The line of `key` written directly under the header `[table]`, found by regex.

    Cheap enough to call on every load (KeyLines scans the whole file and is
    kept for errors); None for anything but that common layout.
    """
    parts = [rf"(?:{re.escape(p)}|\"{re.escape(p)}\"|'{re.escape(p)}')" for p in table]
    header = re.compile(
        r"^[ \t]*\[[ \t]*" + r"[ \t]*\.[ \t]*".join(parts) + r"[ \t]*\][ \t]*(?:#.*)?$", re.M
    )
    found = header.search(text)
    if found is None:
        return None
    following = re.compile(r"^[ \t]*\[", re.M).search(text, found.end())
    end = following.start() if following else len(text)
    line = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=", re.M).search(text, found.end(), end)
    return None if line is None else text.count("\n", 0, line.start()) + 1
