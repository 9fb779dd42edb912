"""Secret masking: values of secret variables become `***` wherever buildsys writes.

Which variables are secret: those a build lists in `secret-env`, and any caller
variable whose name contains TOKEN, SECRET, PASSWORD or PASSWD or ends in _KEY.
Values shorter than `MIN_LENGTH` are not masked (masking "1" or "yes" would
garble every log); the caller is warned instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# typing costs milliseconds, and a replayed no-op imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class _WithSecrets(Protocol):
        """A build as the masker sees it: a `BuildSpec` or a `BuildConfig`."""

        @property
        def name(self) -> str: ...
        @property
        def env(self) -> Mapping[str, str]: ...
        @property
        def secret_env(self) -> tuple[str, ...]: ...


__all__ = ["MASK", "MIN_LENGTH", "Masker", "StreamMasker", "is_secret_name"]

MASK = "***"
MIN_LENGTH = 8
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|_KEY$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a variable's name alone marks its value as secret."""
    return _SECRET_NAME.search(name) is not None


class Masker:
    """Replaces known secret values in text and bytes. Immutable once built."""

    __slots__ = ("_bytes_re", "_max_len", "_text_re", "_values", "short_names")

    def __init__(self, secrets: Mapping[str, str] = {}) -> None:
        values: set[str] = set()
        short: list[str] = []
        for name, value in secrets.items():
            if not value:
                continue
            if len(value) < MIN_LENGTH:
                short.append(name)
            else:
                values.add(value)
        self.short_names: tuple[str, ...] = tuple(sorted(short))
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(values, key=len, reverse=True)
        self._values = tuple(ordered)
        encoded = [v.encode("utf-8", "surrogateescape") for v in ordered]
        self._text_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes_re = re.compile(b"|".join(map(re.escape, encoded))) if encoded else None
        self._max_len = max((len(v) for v in encoded), default=0)

    @classmethod
    def for_run(cls, environ: Mapping[str, str], builds: Iterable[_WithSecrets]) -> Masker:
        """The masker of a run (or listing) of `builds`: the one place that says what
        of a build is secret (its `secret-env` names and secret-named `env` values)."""
        builds = list(builds)
        return cls.for_builds(
            environ,
            {n for b in builds for n in b.secret_env},
            [(b.name, b.env) for b in builds],
        )

    @classmethod
    def for_builds(
        cls,
        environ: Mapping[str, str],
        secret_names: Iterable[str],
        build_envs: Iterable[tuple[str, Mapping[str, str]]],
    ) -> Masker:
        """A run's masker: caller secrets, `secret-env` names, secret-named `env` values."""
        masker = cls.from_environment(environ, secret_names)
        return masker.merged(
            {
                f"{build}.{k}": v
                for build, env in build_envs
                for k, v in env.items()
                if is_secret_name(k)
            }
        )

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], secret_names: Iterable[str] = ()
    ) -> Masker:
        """Secrets of the caller's environment plus the variables named in `secret_names`."""
        chosen = {n: v for n, v in environ.items() if is_secret_name(n)}
        for name in secret_names:
            if name in environ:
                chosen[name] = environ[name]
        return cls(chosen)

    def merged(self, secrets: Mapping[str, str]) -> Masker:
        """A masker that also hides `secrets` (e.g. values set in a build's `env`)."""
        if not secrets:
            return self
        combined = {f"\0{i}": v for i, v in enumerate(self._values)}
        combined.update(secrets)
        merged = Masker(combined)
        merged.short_names = tuple(sorted({*self.short_names, *merged.short_names}))
        return merged

    def __bool__(self) -> bool:
        return self._text_re is not None

    def text(self, value: str) -> str:
        if self._text_re is None or not value:
            return value
        return self._text_re.sub(MASK, value)

    def data(self, value: bytes) -> bytes:
        if self._bytes_re is None or not value:
            return value
        return self._bytes_re.sub(MASK.encode(), value)

    def stream(self) -> StreamMasker:
        return StreamMasker(self._bytes_re, self._max_len)


class StreamMasker:
    """Masks a byte stream fed in chunks, including secrets split across chunks.

    It holds back at most `longest secret - 1` bytes: any match that starts before
    that tail is already final, since no longer secret could still extend it.
    """

    __slots__ = ("_keep", "_pending", "_re")

    def __init__(self, pattern: re.Pattern[bytes] | None, max_len: int) -> None:
        self._re = pattern
        self._keep = max(max_len - 1, 0)
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._re is None:
            return chunk
        buf = self._pending + chunk if self._pending else chunk
        cut = len(buf) - self._keep
        if cut <= 0:
            self._pending = buf
            return b""
        out: list[bytes] = []
        pos = 0
        for match in self._re.finditer(buf):
            if match.start() >= cut:
                break
            out.append(buf[pos : match.start()])
            out.append(MASK.encode())
            pos = match.end()
        end = max(cut, pos)
        out.append(buf[pos:end])
        self._pending = buf[end:]
        return b"".join(out)

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        if self._re is None or not rest:
            return rest
        return self._re.sub(MASK.encode(), rest)
