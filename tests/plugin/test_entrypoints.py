"""Entry points remembered between runs, and looked up again when a distribution changes."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import pytest

from buildsys.plugin import _entrypoints


def _dist(site: Path, name: str, version: str, target: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[buildsys-test]\n{name} = {target}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(site))
    return site


def _names(found: object) -> list[tuple[str, str, str | None, str]]:
    return sorted(found)  # type: ignore[call-overload]


def test_found_once_then_read_from_the_cache(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dist(site, "plug-a", "1.0", "json:dumps")
    first = _entrypoints.entry_points("buildsys-test")
    assert _names(first) == [("plug-a", "json:dumps", "plug-a", "1.0")]

    def no_scan(**_: object) -> object:
        raise AssertionError("scanned the distributions again although nothing changed")

    monkeypatch.setattr(importlib.metadata, "entry_points", no_scan)
    assert _names(_entrypoints.entry_points("buildsys-test")) == _names(first)


@pytest.mark.parametrize("change", ["installed", "removed", "upgraded"])
def test_a_changed_distribution_is_seen(site: Path, change: str) -> None:
    _dist(site, "plug-a", "1.0", "json:dumps")
    _entrypoints.entry_points("buildsys-test")
    before = site.stat().st_mtime_ns
    if change == "installed":
        _dist(site, "plug-b", "2.0", "json:loads")
        expected = [
            ("plug-a", "json:dumps", "plug-a", "1.0"),
            ("plug-b", "json:loads", "plug-b", "2.0"),
        ]
    elif change == "removed":
        for path in sorted((site / "plug_a-1.0.dist-info").iterdir()):
            path.unlink()
        (site / "plug_a-1.0.dist-info").rmdir()
        expected = []
    else:
        for path in sorted((site / "plug_a-1.0.dist-info").iterdir()):
            path.unlink()
        (site / "plug_a-1.0.dist-info").rmdir()
        _dist(site, "plug-a", "1.1", "json:dumps")
        expected = [("plug-a", "json:dumps", "plug-a", "1.1")]
    # Whatever the file system's timestamp granularity, the directory changed.
    os.utime(site, ns=(before + 10**9, before + 10**9))
    assert _names(_entrypoints.entry_points("buildsys-test")) == expected


def test_an_unusable_cache_directory_only_costs_a_scan(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _dist(site, "plug-a", "1.0", "json:dumps")
    assert _names(_entrypoints.entry_points("buildsys-test")) == [
        ("plug-a", "json:dumps", "plug-a", "1.0")
    ]


def test_a_damaged_cache_file_is_ignored(site: Path, tmp_path: Path) -> None:
    _dist(site, "plug-a", "1.0", "json:dumps")
    _entrypoints.entry_points("buildsys-test")
    (cache_file,) = (tmp_path / "cache" / "buildsys").iterdir()
    cache_file.write_bytes(b"\x00garbage")
    assert _names(_entrypoints.entry_points("buildsys-test")) == [
        ("plug-a", "json:dumps", "plug-a", "1.0")
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("json:dumps", "dumps"),
        ("json.decoder:JSONDecoder.decode", "decode"),
        ("json : dumps [extra]", "dumps"),
        ("json", "json"),
    ],
)
def test_load_follows_the_value_like_entry_point_load(value: str, expected: str) -> None:
    assert _entrypoints.load(value).__name__ == expected  # type: ignore[attr-defined]
