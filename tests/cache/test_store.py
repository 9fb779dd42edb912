"""The cache's storage: round trips, damage treated as a miss, safe restores, concurrency, LRU."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from buildsys.cache.hashing import StatMemo, combine, link_digest
from buildsys.cache.store import Cache, CacheMiss, Manifest, ManifestFile

KEY = combine(["build", "web"])
KEY2 = combine(["build", "android"])
KEY3 = combine(["build", "ios"])
OLD = 1_600_000_000.0
BIG = bytes(range(256)) * 5000  # > 1 MiB: the two-pass store path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mode is not None:
        path.chmod(mode)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root / "dist" / "app.js", b"console.log(1)\n")
    write(root / "dist" / ".hidden", b"dotfile")
    write(root / "dist" / "nested" / "deep" / "data.bin", bytes(range(256)) * 3)
    write(root / "dist" / "big.bin", BIG)
    write(root / "dist" / "empty", b"")
    write(root / "bin" / "run.sh", b"#!/bin/sh\necho hi\n", mode=0o755)
    write(root / "bin" / "private", b"secret-ish", mode=0o600)
    (root / "dist" / "latest.js").symlink_to("app.js")
    (root / "dist" / "abs-link").symlink_to("/usr/bin/env")
    write(root / "build.log", b"building...\nok\n")
    return root


OUTPUTS = [
    "dist/app.js",
    "dist/.hidden",
    "dist/nested/deep/data.bin",
    "dist/big.bin",
    "dist/empty",
    "dist/latest.js",
    "dist/abs-link",
    "bin/run.sh",
    "bin/private",
]


def stored(cache: Cache, project: Path, key: str = KEY) -> Manifest:
    manifest = cache.store(key, project, OUTPUTS, project / "build.log", {"build": "web"})
    assert manifest is not None, cache.warnings
    return manifest


def leftovers(directory: Path) -> list[str]:
    """Temporary files below a project (`.buildsys-*`) or a cache (any dotfile in its tree)."""
    is_cache = (directory / "blobs").exists() or (directory / "manifests").exists()
    return sorted(
        str(p)
        for p in directory.rglob(".*")
        if p.name.startswith(".buildsys-") or (is_cache and p.name != ".gitignore")
    )


def test_round_trip(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = stored(cache, project)
    assert [f.path for f in manifest.files] == sorted(OUTPUTS)
    assert manifest.meta == {"build": "web"}

    found = Cache(tmp_path / "cache").lookup(KEY)
    assert found == manifest
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    written = cache.restore(found, fresh)
    assert sorted(written) == sorted(OUTPUTS)
    for rel in OUTPUTS:
        src, dst = project / rel, fresh / rel
        if src.is_symlink():
            assert dst.is_symlink()
            assert os.readlink(dst) == os.readlink(src)
        else:
            assert not dst.is_symlink()
            assert dst.read_bytes() == src.read_bytes()
            assert stat.S_IMODE(dst.stat().st_mode) == stat.S_IMODE(src.stat().st_mode)
    assert cache.read_log(found) == b"building...\nok\n"
    assert cache.copy_log(found, tmp_path / "logs" / "web.cached.log")
    assert (tmp_path / "logs" / "web.cached.log").read_bytes() == b"building...\nok\n"
    assert cache.warnings == []
    assert leftovers(fresh) == [] and leftovers(tmp_path / "cache") == []
    # Blobs are content-addressed and read-only.
    blob = cache.blob_path(sha(b"dotfile"))
    assert blob.read_bytes() == b"dotfile"
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444


def test_directories_are_walked_when_stored(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = cache.store(KEY, project, ["dist"], None, {})
    assert manifest is not None
    assert {f.path for f in manifest.files} == {
        "dist/.hidden",
        "dist/abs-link",
        "dist/app.js",
        "dist/big.bin",
        "dist/empty",
        "dist/latest.js",
        "dist/nested/deep/data.bin",
    }
    assert manifest.log_blob is None
    assert cache.read_log(manifest) is None


def test_restore_only_what_is_missing_or_different(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = stored(cache, project)
    assert cache.restore(manifest, project) == []  # everything in place

    (project / "dist" / "app.js").unlink()
    (project / "dist" / "latest.js").unlink()
    write(project / "dist" / "nested" / "deep" / "data.bin", b"X" * (256 * 3))  # same size
    (project / "bin" / "run.sh").chmod(0o644)
    (project / "dist" / "abs-link").unlink()
    (project / "dist" / "abs-link").symlink_to("/elsewhere")
    untouched = (project / "dist" / "big.bin").stat().st_ino

    memo = StatMemo()
    written = cache.restore(manifest, project, memo=memo)
    assert sorted(written) == sorted(
        [
            "dist/app.js",
            "dist/latest.js",
            "dist/nested/deep/data.bin",
            "bin/run.sh",
            "dist/abs-link",
        ]
    )
    assert (project / "dist" / "app.js").read_bytes() == b"console.log(1)\n"
    assert os.readlink(project / "dist" / "latest.js") == "app.js"
    assert os.readlink(project / "dist" / "abs-link") == "/usr/bin/env"
    assert (project / "dist" / "nested" / "deep" / "data.bin").read_bytes() == bytes(range(256)) * 3
    assert stat.S_IMODE((project / "bin" / "run.sh").stat().st_mode) == 0o755
    assert (project / "dist" / "big.bin").stat().st_ino == untouched
    assert cache.restore(manifest, project, memo=memo) == []
    assert leftovers(project) == []


def test_unknown_key_is_a_quiet_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    assert cache.lookup(KEY) is None
    assert cache.warnings == []
    with pytest.raises(ValueError):
        cache.lookup("../../etc/passwd")


def _damage(cache: Cache, manifest: Manifest, how: str) -> None:
    big = next(f for f in manifest.files if f.path == "dist/big.bin")
    blob = cache.blob_path(big.sha256)
    blob.chmod(0o644)
    if how == "flip":
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01
        blob.write_bytes(bytes(data))
    elif how == "truncate-blob":
        blob.write_bytes(blob.read_bytes()[:1000])
    elif how == "missing-blob":
        blob.unlink()
    elif how == "garbage-manifest":
        cache.manifest_path(manifest.key).write_bytes(b"\x89PNG not json at all")
    elif how == "truncated-manifest":
        path = cache.manifest_path(manifest.key)
        path.write_bytes(path.read_bytes()[:-40])
    elif how == "wrong-key-manifest":
        path = cache.manifest_path(manifest.key)
        path.write_text(path.read_text().replace(manifest.key, KEY2))
    elif how == "bad-log":
        assert manifest.log_blob is not None
        log = cache.blob_path(manifest.log_blob)
        log.chmod(0o644)
        log.write_bytes(b"building...\nOK\n")


DAMAGE = [
    "flip",
    "truncate-blob",
    "missing-blob",
    "garbage-manifest",
    "truncated-manifest",
    "wrong-key-manifest",
    "bad-log",
]


@pytest.mark.parametrize("how", DAMAGE)
def test_damage_is_a_warning_an_eviction_and_a_miss(
    tmp_path: Path, project: Path, how: str
) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = stored(cache, project)
    _damage(cache, manifest, how)
    assert cache.lookup(KEY) is None
    assert len(cache.warnings) == 1
    assert "evicted" in cache.warnings[0]
    assert not cache.manifest_path(KEY).exists()
    assert cache.lookup(KEY) is None  # and it stays a miss, quietly
    assert len(cache.warnings) == 1
    # Storing again repairs the entry (a bad blob was deleted, so it is rewritten).
    assert stored(cache, project) is not None
    again = cache.lookup(KEY)
    assert again is not None
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    cache.restore(again, fresh)
    assert (fresh / "dist" / "big.bin").read_bytes() == BIG


@pytest.mark.parametrize("how", ["flip", "truncate-blob", "missing-blob"])
def test_bad_blob_is_never_restored(tmp_path: Path, project: Path, how: str) -> None:
    """With size-only lookups (verify=False), restore's own verification still catches it."""
    cache = Cache(tmp_path / "cache")
    manifest = stored(cache, project)
    _damage(cache, manifest, how)
    found = cache.lookup(KEY, verify=False)
    if how == "flip":  # same size: only reading the content tells
        assert found is not None
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        with pytest.raises(CacheMiss):
            cache.restore(found, fresh)
        assert not (fresh / "dist" / "big.bin").exists()
        assert leftovers(fresh) == []
        assert not cache.manifest_path(KEY).exists()
        big = next(f for f in manifest.files if f.path == "dist/big.bin")
        assert not cache.blob_path(big.sha256).exists()
        assert len(cache.warnings) == 1
    else:
        assert found is None
        assert len(cache.warnings) == 1


def test_bad_log_via_copy_log(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = stored(cache, project)
    _damage(cache, manifest, "bad-log")
    assert cache.copy_log(manifest, tmp_path / "logs" / "web.log") is False
    assert not (tmp_path / "logs" / "web.log").exists()
    assert leftovers(tmp_path / "logs") == []
    assert len(cache.warnings) == 1


def _hand_edit(cache: Cache, key: str, files: list[dict[str, object]]) -> None:
    path = cache.manifest_path(key)
    data = json.loads(path.read_text())
    data["files"] = files
    path.write_text(json.dumps(data))


def _entry(path: str, data: bytes) -> dict[str, object]:
    return {"path": path, "sha256": sha(data), "size": len(data), "mode": 0o644, "symlink": None}


@pytest.mark.parametrize(
    "bad_path",
    ["../escape", "dist/../../escape", "/tmp/absolute-escape", "dist//x", "./x", ""],
)
def test_hand_edited_manifest_with_unsafe_path_is_rejected(
    tmp_path: Path, project: Path, bad_path: str
) -> None:
    cache = Cache(tmp_path / "cache")
    stored(cache, project)
    _hand_edit(cache, KEY, [_entry(bad_path, b"dotfile")])
    assert cache.lookup(KEY) is None
    assert "unsafe path" in cache.warnings[0]
    assert not cache.manifest_path(KEY).exists()
    # Handed to restore directly (bypassing lookup), it is still refused.
    outside = tmp_path / "outside"
    outside.mkdir()
    root = outside / "project"
    root.mkdir()
    manifest = Manifest(
        KEY, (ManifestFile(bad_path, sha(b"dotfile"), 7, 0o644, None),), None, 0.0, {}
    )
    with pytest.raises(CacheMiss):
        cache.restore(manifest, root)
    assert [p.name for p in outside.iterdir()] == ["project"]
    assert list(root.iterdir()) == []
    assert not Path("/tmp/absolute-escape").exists()


def test_restore_never_goes_through_a_symlink_out_of_the_project(
    tmp_path: Path, project: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    stored(cache, project)
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "victim"
    root.mkdir()
    (root / "linkdir").symlink_to(outside)  # a symlinked directory pointing out
    (root / "inside").mkdir()
    (root / "alias").symlink_to("inside")  # one pointing in is fine
    (root / "file.txt").symlink_to(outside / "file.txt")  # a final component pointing out

    _hand_edit(cache, KEY, [_entry("linkdir/x", b"dotfile")])
    manifest = cache.lookup(KEY)
    assert manifest is not None  # the text is fine; only the destination tells
    with pytest.raises(CacheMiss):
        cache.restore(manifest, root)
    assert list(outside.iterdir()) == []
    assert not cache.manifest_path(KEY).exists()

    stored(cache, project)
    _hand_edit(cache, KEY, [_entry("alias/x", b"dotfile"), _entry("file.txt", b"dotfile")])
    manifest = cache.lookup(KEY)
    assert manifest is not None
    assert sorted(cache.restore(manifest, root)) == ["alias/x", "file.txt"]
    assert (root / "inside" / "x").read_bytes() == b"dotfile"
    assert not (root / "file.txt").is_symlink()  # the link was replaced, not followed
    assert (root / "file.txt").read_bytes() == b"dotfile"
    assert list(outside.iterdir()) == []


def test_manifest_that_links_out_then_writes_through_the_link_is_rejected(
    tmp_path: Path, project: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    stored(cache, project)
    outside = str(tmp_path / "outside")
    link = {
        "path": "out",
        "sha256": link_digest(outside),
        "size": len(outside),
        "mode": 0o777,
        "symlink": outside,
    }
    _hand_edit(cache, KEY, [link, _entry("out/x", b"dotfile")])
    assert cache.lookup(KEY) is None
    assert "nested" in cache.warnings[0]


def test_store_refuses_files_outside_the_project(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    write(tmp_path / "elsewhere" / "x", b"x")
    (project / "ext").symlink_to(tmp_path / "elsewhere")
    for files in (["../elsewhere/x"], ["/etc/hostname"], ["ext/x"], ["dist/missing"]):
        assert cache.store(KEY, project, files, None, {}) is None
    assert len(cache.warnings) == 4
    assert stored(cache, project) is not None  # source trouble doesn't disable the cache


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from buildsys.cache.store import Cache
    from buildsys.cache.hashing import combine

    cache_dir, root, who = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    same = combine(["same"])
    for i in range(8):
        cache = Cache(cache_dir)
        assert cache.store(same, root, ["shared"], root / "log", {"who": who}), cache.warnings
        own = combine([who, str(i)])
        assert cache.store(own, root, ["shared", "own"], None, {"i": str(i)}), cache.warnings
        assert cache.lookup(same) is not None, cache.warnings
        assert cache.lookup(own) is not None, cache.warnings
        for w in cache.warnings:
            print("WARNING", w)
    """
)


def test_two_processes_sharing_one_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    roots = []
    for who in ("a", "b"):
        root = tmp_path / who
        write(root / "shared" / "big.bin", BIG)  # identical content: the same blobs
        for i in range(20):
            write(root / "shared" / f"small{i}.txt", f"shared {i}".encode())
        write(root / "own" / "mine.txt", who.encode() * 1000)
        write(root / "log", b"log\n")
        roots.append(root)
    for _round in range(2):
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(cache_dir), str(root), root.name],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for root in roots
        ]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert "WARNING" not in out
    cache = Cache(cache_dir)
    keys = [e.key for e in cache.entries()]
    assert len(keys) == 1 + 2 * 8
    for key in keys:
        manifest = cache.lookup(key)  # verify=True: every blob read and hashed
        assert manifest is not None, cache.warnings
        fresh = tmp_path / "check" / key
        fresh.mkdir(parents=True)
        cache.restore(manifest, fresh)
    assert cache.warnings == []
    assert leftovers(cache_dir) == []


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_store_warns_once_and_returns_none(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path / "cache")
    monkeypatch.setattr(os, "replace", _enospc)
    assert cache.store(KEY, project, OUTPUTS, project / "build.log", {}) is None
    assert len(cache.warnings) == 1
    assert "No space left" in cache.warnings[0]
    assert cache.store(KEY2, project, OUTPUTS, None, {}) is None  # skipped, no new warning
    assert len(cache.warnings) == 1
    monkeypatch.undo()
    assert leftovers(tmp_path / "cache") == []
    assert cache.lookup(KEY) is None


def test_read_only_cache_directory(tmp_path: Path, project: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions; see the full-disk test")
    directory = tmp_path / "cache"
    Cache(directory)
    directory.chmod(0o500)
    try:
        cache = Cache(directory)
        assert cache.store(KEY, project, OUTPUTS, None, {}) is None
        assert len(cache.warnings) == 1
        assert cache.lookup(KEY) is None
    finally:
        directory.chmod(0o700)


READ_ONLY_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from buildsys.cache.store import Cache
    from buildsys.cache.hashing import combine

    cache = Cache(Path(sys.argv[1]))
    project, fresh = Path(sys.argv[2]), Path(sys.argv[3])
    stored = cache.store(combine(["new"]), project, ["dist/app.js"], None, {})
    hit = cache.lookup(combine(["build", "web"]))
    restored = cache.restore(hit, fresh) if hit else None
    print(json.dumps({"stored": stored is not None, "restored": restored,
                      "warnings": cache.warnings}))
    """
)


def test_read_only_cache_directory_as_root_via_a_read_only_mount(
    tmp_path: Path, project: Path
) -> None:
    """Root ignores permissions, but not a read-only mount (in a private mount namespace)."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a mount namespace; see the chmod test")
    directory = tmp_path / "cache"
    stored(Cache(directory), project)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    mount = f"mount --bind {directory} {directory} && mount -o remount,ro,bind {directory}"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{mount} && ! touch {directory}/probe"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"no private read-only mount here: {probe.stderr!r}")
    child = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'{mount} && exec "$0" "$@"',
            sys.executable,
            "-c",
            READ_ONLY_CHILD,
            str(directory),
            str(project),
            str(fresh),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout)
    assert result["stored"] is False
    assert len(result["warnings"]) == 1
    assert "Read-only file system" in result["warnings"][0]
    assert sorted(result["restored"]) == sorted(OUTPUTS)  # a read-only cache still serves hits


def test_unusable_directory_degrades_to_misses(tmp_path: Path, project: Path) -> None:
    write(tmp_path / "a-file", b"")
    cache = Cache(tmp_path / "a-file" / "cache")
    assert len(cache.warnings) == 1
    assert cache.lookup(KEY) is None
    assert cache.store(KEY, project, OUTPUTS, None, {}) is None
    assert cache.info().entries == 0
    assert list(cache.entries()) == []
    assert cache.evict(0) == 0
    cache.clean()
    assert len(cache.warnings) == 1


def _store_one(cache: Cache, root: Path, key: str, name: str, data: bytes) -> Manifest:
    write(root / name, data)
    manifest = cache.store(key, root, [name], None, {})
    assert manifest is not None
    return manifest


def test_lru_eviction(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    root = tmp_path / "p"
    m1 = _store_one(cache, root, KEY, "one", b"1" * 10_000)
    m2 = _store_one(cache, root, KEY2, "two", b"2" * 10_000)
    write(root / "shared", b"1" * 10_000)  # the same content as KEY's file: one blob
    m3 = cache.store(KEY3, root, ["shared"], None, {})
    assert m3 is not None and m3.files[0].sha256 == m1.files[0].sha256
    for i, key in enumerate((KEY, KEY2, KEY3)):
        os.utime(cache.manifest_path(key), (OLD + i, OLD + i))
    assert cache.lookup(KEY) is not None  # now the most recently used; LRU: KEY2, KEY3, KEY
    before = cache.info()
    assert before.entries == 3

    # Young unreferenced blobs are kept by default; grace=0 lets them go.
    assert cache.evict(before.size - 1, grace=0) == 1
    assert cache.lookup(KEY2) is None
    assert not cache.blob_path(m2.files[0].sha256).exists()
    assert {e.key for e in cache.entries()} == {KEY, KEY3}

    assert cache.evict(cache.info().size - 1, grace=0) == 1  # KEY3 goes; its blob is shared
    assert cache.lookup(KEY3) is None
    assert cache.blob_path(m1.files[0].sha256).exists()
    assert cache.lookup(KEY) is not None

    assert cache.evict(10**9, grace=0) == 0  # already under the limit
    assert cache.evict(0, grace=0) == 1
    assert cache.info().entries == 0 and cache.info().size == 0
    assert cache.warnings == []


def test_eviction_keeps_young_unreferenced_blobs(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", max_size=0)
    m = _store_one(cache, tmp_path / "p", KEY, "f", b"x" * 100)
    assert cache.trim() == 1
    assert cache.info().entries == 0
    assert cache.blob_path(m.files[0].sha256).exists()  # a concurrent store may want it
    assert cache.evict(0, grace=0) == 0
    assert not cache.blob_path(m.files[0].sha256).exists()
    assert Cache(tmp_path / "cache").trim() == 0  # no max_size: no eviction


def test_clean_and_info(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    assert cache.info().entries == 0 and cache.info().size == 0
    stored(cache, project, KEY)
    stored(cache, project, KEY2)
    info = cache.info()
    assert info.directory == tmp_path / "cache"
    assert info.entries == 2
    on_disk = sum(
        p.stat().st_size
        for sub in ("blobs", "manifests")
        for p in (tmp_path / "cache" / sub).rglob("*")
        if p.is_file()
    )
    assert info.size == on_disk > len(BIG)
    entries = {e.key: e for e in cache.entries()}
    assert set(entries) == {KEY, KEY2}
    assert entries[KEY].size > len(BIG)
    assert entries[KEY].last_used > OLD

    cache.clean()
    assert cache.info().entries == 0 and cache.info().size == 0
    assert cache.lookup(KEY) is None
    assert cache.warnings == []
    assert stored(cache, project) is not None  # usable again afterwards
    assert cache.lookup(KEY) is not None


def test_explicitly_empty_outputs_are_cached_on_success_alone(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = cache.store(KEY, tmp_path, [], None, {"status": "ok"})
    assert manifest is not None and manifest.files == ()
    found = cache.lookup(KEY)
    assert found is not None and found.meta == {"status": "ok"}
    assert cache.restore(found, tmp_path) == []


def test_project_side_trouble_is_a_miss_without_eviction(tmp_path: Path, project: Path) -> None:
    cache = Cache(tmp_path / "cache")
    manifest = stored(cache, project)
    root = tmp_path / "other"
    write(root / "dist", b"a file where a directory should be")
    with pytest.raises(CacheMiss):
        cache.restore(manifest, root)
    assert len(cache.warnings) == 1
    assert cache.lookup(KEY) is not None  # the entry itself is fine
