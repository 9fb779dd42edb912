"""The stat memo and input hashing: content decides, never timestamps; racy entries re-hash."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from buildsys.cache import hashing
from buildsys.cache.hashing import StatMemo, combine, hash_inputs, link_digest

OLD = 1_000_000_000 * 1_600_000_000  # 2020: far outside any racy window


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = hashing._hash_fd

    def counting(fd: int) -> str:
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(hashing, "_hash_fd", counting)
    return calls


def write(path: Path, data: bytes, mtime_ns: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_digest_is_of_content_not_mtime(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", b"hello", OLD)
    memo = StatMemo()
    first = memo.digest(tmp_path, "a.txt")
    assert first == sha(b"hello")
    os.utime(tmp_path / "a.txt", ns=(OLD + 10**9, OLD + 10**9))
    assert memo.digest(tmp_path, "a.txt") == first
    assert StatMemo().digest(tmp_path, "a.txt") == first


def test_changed_content_with_same_size_and_mtime_is_detected(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    write(f, b"aaaa")
    memo = StatMemo()
    assert memo.digest(tmp_path, "a.txt") == sha(b"aaaa")
    before = f.stat()
    f.write_bytes(b"bbbb")  # same size, within the same instant as far as the memo knows
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert memo.digest(tmp_path, "a.txt") == sha(b"bbbb")


def _forge(memo: StatMemo, root: Path, rel: str, digest: str, recorded_ns: int) -> None:
    """An entry matching the file's current stat exactly, as if it had been recorded then."""
    st = (root / rel).stat()
    memo._entries[os.path.join(root, rel)] = hashing._Entry(
        digest, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, recorded_ns
    )


def test_racy_entry_is_rehashed_even_when_every_stat_field_matches(tmp_path: Path) -> None:
    """The racy-git rule on its own: ctime can't be rewound from user space, so forge the entry.

    An entry recorded within the timestamp granularity of the file's mtime may
    hide a later same-size write in the same tick; it must not be trusted.
    """
    f = tmp_path / "a.txt"
    write(f, b"new!", OLD)
    stale = sha(b"old!")
    memo = StatMemo()
    _forge(memo, tmp_path, "a.txt", stale, recorded_ns=OLD + 1_000_000)  # 1 ms after the write
    assert memo.digest(tmp_path, "a.txt") == sha(b"new!")
    # Control: the same forged entry recorded well after the mtime is trusted, which is
    # exactly why the racy window matters.
    memo = StatMemo()
    _forge(memo, tmp_path, "a.txt", stale, recorded_ns=OLD + 10 * 10**9)
    assert memo.digest(tmp_path, "a.txt") == stale


def test_window_edge(tmp_path: Path) -> None:
    write(tmp_path / "a", b"x", OLD)
    memo = StatMemo(racy_window_ns=2_000_000_000)
    _forge(memo, tmp_path, "a", "0" * 64, recorded_ns=OLD + 1_999_999_999)
    assert memo.digest(tmp_path, "a") == sha(b"x")  # still racy: re-hashed
    _forge(memo, tmp_path, "a", "0" * 64, recorded_ns=OLD + 2_000_000_000)
    assert memo.digest(tmp_path, "a") == "0" * 64  # outside the window: trusted


@pytest.mark.parametrize(
    ("mtime_ns", "racy_after_ns", "trusted_after_ns"),
    [
        # Sub-second timestamps: a file system stamped from a clock ticking every few ms.
        (OLD + 123_456_789, 19_000_000, 20_000_000),
        # Whole seconds: a file system that may keep only seconds (or FAT's two).
        (OLD, 1_999_999_999, 2_000_000_000),
    ],
)
def test_window_follows_the_granularity_of_the_timestamp(
    tmp_path: Path, mtime_ns: int, racy_after_ns: int, trusted_after_ns: int
) -> None:
    write(tmp_path / "a", b"x", mtime_ns)
    memo = StatMemo()
    _forge(memo, tmp_path, "a", "0" * 64, recorded_ns=mtime_ns + racy_after_ns)
    assert memo.digest(tmp_path, "a") == sha(b"x")  # racy: hashed again
    _forge(memo, tmp_path, "a", "0" * 64, recorded_ns=mtime_ns + trusted_after_ns)
    assert memo.digest(tmp_path, "a") == "0" * 64  # outside the window: trusted


def test_touch_costs_one_rehash_then_none(tmp_path: Path, hash_calls: list[int]) -> None:
    f = tmp_path / "src" / "a.py"
    write(f, b"print(1)\n", OLD)
    memo_path = tmp_path / "memo"
    memo = StatMemo.load(memo_path)
    d = memo.digest(tmp_path, "src/a.py")
    assert len(hash_calls) == 1
    assert memo.digest(tmp_path, "src/a.py") == d
    assert len(hash_calls) == 1
    assert memo.save()

    os.utime(f, ns=(OLD + 5 * 10**9, OLD + 5 * 10**9))  # a touch: content unchanged
    memo = StatMemo.load(memo_path)  # the next run
    assert memo.digest(tmp_path, "src/a.py") == d
    assert len(hash_calls) == 2  # hashed once...
    assert memo.save()
    memo = StatMemo.load(memo_path)  # ...and the run after that trusts the refreshed entry
    assert memo.digest(tmp_path, "src/a.py") == d
    assert len(hash_calls) == 2


def test_recent_file_stays_dirty_until_outside_the_window(tmp_path: Path, hash_calls) -> None:
    write(tmp_path / "a", b"x")  # mtime: now, so every entry recorded now is racy
    memo = StatMemo()
    memo.digest(tmp_path, "a")
    memo.digest(tmp_path, "a")
    assert len(hash_calls) == 2


def test_symlink_is_hashed_as_its_link_text(tmp_path: Path, hash_calls: list[int]) -> None:
    write(tmp_path / "target.txt", b"one")
    write(tmp_path / "other.txt", b"one")
    (tmp_path / "link").symlink_to("target.txt")
    memo = StatMemo()
    d = memo.digest(tmp_path, "link")
    assert d == link_digest("target.txt") == sha(b"symlink:target.txt")
    (tmp_path / "target.txt").write_bytes(b"two")
    assert memo.digest(tmp_path, "link") == d
    (tmp_path / "link").unlink()
    (tmp_path / "link").symlink_to("other.txt")
    assert memo.digest(tmp_path, "link") != d
    (tmp_path / "dangling").symlink_to("nowhere")
    assert memo.digest(tmp_path, "dangling") == link_digest("nowhere")
    assert hash_calls == []  # never opened


def test_fifo_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    d = StatMemo().digest(tmp_path, "pipe")
    assert len(d) == 64


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        StatMemo().digest(tmp_path, "nope")


def test_save_load_round_trip(tmp_path: Path, hash_calls: list[int]) -> None:
    root = tmp_path / "p"
    for i in range(50):
        write(root / f"d{i % 5}" / f"f {i}.txt", f"content {i}".encode(), OLD)
    memo_path = tmp_path / "state" / "memo"
    memo = StatMemo.load(memo_path)
    rels = sorted(str(p.relative_to(root)) for p in root.rglob("*.txt"))
    digests = [memo.digest(root, r) for r in rels]
    assert memo.save()
    assert len(hash_calls) == 50
    loaded = StatMemo.load(memo_path)
    assert len(loaded) == 50
    assert [loaded.digest(root, r) for r in rels] == digests
    assert len(hash_calls) == 50
    # nothing changed: saving again is a no-op that succeeds
    assert loaded.save()


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "bad-checksum", "no-tab", "not-utf8", "empty", "directory"],
)
def test_damaged_memo_loads_empty(tmp_path: Path, damage: str) -> None:
    write(tmp_path / "a", b"x", OLD)
    memo_path = tmp_path / "memo"
    memo = StatMemo.load(memo_path)
    memo.digest(tmp_path, "a")
    memo.save()
    text = memo_path.read_bytes()
    if damage == "garbage":
        memo_path.write_bytes(b"\x00\x01 not a memo\n\tzzz")
    elif damage == "truncated":
        memo_path.write_bytes(text[: len(text) - 7])
    elif damage == "bad-checksum":
        memo_path.write_bytes(text.replace(b"\t" + sha(b"x").encode(), b"\t" + b"0" * 64))
    elif damage == "no-tab":
        header, _, _body = text.partition(b"\n")
        body = b"no tab here\n"
        header = header.rsplit(b" ", 1)[0] + b" " + sha(body).encode()
        memo_path.write_bytes(header + b"\n" + body)
    elif damage == "not-utf8":
        memo_path.write_bytes(b"\xff\xfe" + text)
    elif damage == "empty":
        memo_path.write_bytes(b"")
    elif damage == "directory":
        memo_path.unlink()
        memo_path.mkdir()
    loaded = StatMemo.load(memo_path)
    assert len(loaded) == 0
    assert loaded.digest(tmp_path, "a") == sha(b"x")


def test_bad_line_inside_valid_checksum_is_just_rehashed(tmp_path: Path) -> None:
    write(tmp_path / "a", b"x", OLD)
    key = os.path.join(tmp_path, "a")
    body = f"{key}\tnot six fields\n"
    memo_path = tmp_path / "memo"
    memo_path.write_text(f"buildsys-statmemo 1 {sha(body.encode())}\n{body}")
    memo = StatMemo.load(memo_path)
    assert len(memo) == 1
    assert memo.digest(tmp_path, "a") == sha(b"x")


def test_missing_memo_is_empty_and_save_failure_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memo = StatMemo.load(tmp_path / "absent")
    assert len(memo) == 0
    write(tmp_path / "a", b"x")
    memo.digest(tmp_path, "a")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert memo.save() is False
    monkeypatch.undo()
    assert memo.save() is True  # still dirty: the next save writes it
    assert len(StatMemo.load(tmp_path / "absent")) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unusual_names_are_hashed_but_not_memoised(tmp_path: Path) -> None:
    name = "tab\there"
    write(tmp_path / name, b"x", OLD)
    memo = StatMemo.load(tmp_path / "memo")
    assert memo.digest(tmp_path, name) == sha(b"x")
    assert len(memo) == 0


def test_concurrent_digest_and_save_from_threads(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for i in range(200):
        write(root / f"f{i}", f"{i}".encode(), OLD)
    memo = StatMemo.load(tmp_path / "memo")

    def work(_n: int) -> list[str]:
        digests = [memo.digest(root, f"f{i}") for i in range(200)]
        memo.save()
        return digests

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(work, range(6)))  # re-raises any worker's exception
    expected = [sha(f"{i}".encode()) for i in range(200)]
    assert all(r == expected for r in results)
    assert memo.save()
    assert len(StatMemo.load(tmp_path / "memo")) == 200


def test_concurrent_processes_never_leave_a_torn_memo(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for i in range(300):
        write(root / f"f{i}", f"{i}".encode() * 10, OLD)
    memo_path = tmp_path / "memo"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from buildsys.cache.hashing import StatMemo
        root = Path({str(root)!r})
        for round in range(15):
            memo = StatMemo.load(Path({str(memo_path)!r}))
            for i in range(int(sys.argv[1]), 300, 2):
                memo.digest(root, f"f{{i}}")
            memo._dirty = True
            assert memo.save()
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in (0, 1)]
    while any(p.poll() is None for p in procs):
        if memo_path.exists():
            text = memo_path.read_text()
            header, _, body = text.partition("\n")
            assert header.endswith(sha(body.encode())), "torn or damaged memo file"
        time.sleep(0.005)
    assert [p.wait() for p in procs] == [0, 0]
    assert len(StatMemo.load(memo_path)) >= 150  # the last writer's half, at least


def test_hash_inputs(tmp_path: Path) -> None:
    write(tmp_path / "src" / "a.ts", b"a")
    write(tmp_path / "src" / ".env", b"dot")
    write(tmp_path / "src" / "deep" / "b.ts", b"b")
    write(tmp_path / "src" / "a.test.ts", b"excluded")
    write(tmp_path / "outside" / "secret.ts", b"s")
    (tmp_path / "src" / "linkdir").symlink_to("../outside")
    memo = StatMemo()
    got = hash_inputs(tmp_path, ["src/**", "!**/*.test.ts"], memo)
    assert got == (
        ("src/.env", sha(b"dot")),
        ("src/a.ts", sha(b"a")),
        ("src/deep/b.ts", sha(b"b")),
        ("src/linkdir", link_digest("../outside")),
    )
    assert hash_inputs(tmp_path, ["nothing/**"], memo) == ()


def test_combine_is_length_prefixed() -> None:
    assert combine(["ab", "c"]) != combine(["a", "bc"])
    assert combine(["a", ""]) != combine(["a"])
    assert combine(["x", b"y"]) == combine([b"x", "y"])
    assert combine([]) == sha(b"")
    assert len(combine(["é"])) == 64
