"""buildsys.config.graph: selecting builds (names, tags, dependency closure), leaves, DOT output."""

from __future__ import annotations

import textwrap

import pytest

import buildsys
from buildsys.config.graph import leaves, select, to_dot
from buildsys.config.model import BuildConfig
from buildsys.plugin.manager import PluginHost


def b(name: str, *deps: str, tags: tuple[str, ...] = (), platform: str = "command") -> BuildConfig:
    return BuildConfig(name=name, platform=platform, depends_on=deps, tags=tags)


#   shared <- web <- e2e
#   shared <- ios          (tag mobile)
#   android                (tag mobile)
#   docs                   (tag docs)
BUILDS = [
    b("docs", tags=("docs",)),
    b("e2e", "web"),
    b("web", "shared", tags=("web",)),
    b("ios", "shared", tags=("mobile",)),
    b("shared"),
    b("android", tags=("mobile", "java")),
]


def names(builds: list[BuildConfig]) -> list[str]:
    return [x.name for x in builds]


def test_select_everything_by_default():
    selected = select(BUILDS)
    assert names(selected) == names(BUILDS)
    assert selected is not BUILDS
    assert select(BUILDS, [], []) == BUILDS


def test_select_names_with_dependency_closure_in_file_order():
    assert names(select(BUILDS, ["e2e"])) == ["e2e", "web", "shared"]
    assert names(select(BUILDS, ["shared"])) == ["shared"]
    # file order, not the order the names were given in
    assert names(select(BUILDS, ["android", "docs"])) == ["docs", "android"]
    assert names(select(BUILDS, ["ios", "web"])) == ["web", "ios", "shared"]


def test_select_duplicate_names():
    assert names(select(BUILDS, ["web", "web"])) == ["web", "shared"]


def test_select_accepts_iterables():
    assert names(select(BUILDS, iter(["web"]), iter(()))) == ["web", "shared"]


def test_select_tags_with_dependency_closure():
    assert names(select(BUILDS, tags=["mobile"])) == ["ios", "shared", "android"]
    assert names(select(BUILDS, tags=["java"])) == ["android"]
    assert names(select(BUILDS, tags=["docs", "web"])) == ["docs", "web", "shared"]


def test_select_names_and_tags_is_a_union():
    assert names(select(BUILDS, ["e2e"], ["docs"])) == ["docs", "e2e", "web", "shared"]


def test_select_unknown_name_is_a_usage_error_with_did_you_mean():
    with pytest.raises(buildsys.UsageError) as info:
        select(BUILDS, ["wbe"])
    message = str(info.value)
    assert message.startswith("unknown build 'wbe' (did you mean 'web'?)")
    assert "builds: docs, e2e, web, ios, shared, android" in message


def test_select_unknown_name_without_close_match():
    with pytest.raises(buildsys.UsageError) as info:
        select(BUILDS, ["web", "zzzzzz"])
    assert str(info.value).startswith("unknown build 'zzzzzz'; builds: ")
    assert "did you mean" not in str(info.value)


def test_select_unknown_tag_is_a_usage_error_with_did_you_mean():
    with pytest.raises(buildsys.UsageError) as info:
        select(BUILDS, tags=["mobil"])
    message = str(info.value)
    assert message.startswith("no build has tag 'mobil' (did you mean 'mobile'?)")
    assert "tags: docs, java, mobile, web" in message


def test_select_from_no_builds():
    assert select([]) == []
    with pytest.raises(buildsys.UsageError, match="builds: none"):
        select([], ["web"])
    with pytest.raises(buildsys.UsageError, match="tags: none"):
        select([], tags=["web"])


def test_leaves():
    assert leaves(BUILDS) == ["docs", "e2e", "ios", "android"]
    assert leaves(select(BUILDS, ["e2e"])) == ["e2e"]
    assert leaves([]) == []
    assert leaves([b("a"), b("b")]) == ["a", "b"]


def test_to_dot():
    dot = to_dot([b("shared"), b("web", "shared", platform="web"), b("e2e", "web", "shared")])
    assert dot == textwrap.dedent(
        """\
        digraph buildsys {
          rankdir=LR;
          node [shape=box];
          "shared" [label="shared\\n(command)"];
          "web" [label="web\\n(web)"];
          "e2e" [label="e2e\\n(command)"];
          "web" -> "shared";
          "e2e" -> "web";
          "e2e" -> "shared";
        }
        """
    )


def test_to_dot_without_builds():
    assert to_dot([]) == "digraph buildsys {\n  rankdir=LR;\n  node [shape=box];\n}\n"


def test_to_dot_quotes_identifiers():
    dot = to_dot([b('we"ird\\name'), b("a.b-c_d", 'we"ird\\name')])
    assert '"we\\"ird\\\\name" [label=' in dot
    assert '"a.b-c_d" -> "we\\"ird\\\\name";' in dot


def test_select_on_a_loaded_config(tmp_path):
    path = tmp_path / "builds.toml"
    path.write_text(
        textwrap.dedent(
            """
            [builds.lib]
            platform = "command"
            command = ["make", "lib"]

            [builds.app]
            platform = "command"
            command = ["make", "app"]
            depends-on = ["lib"]
            tags = ["release"]

            [builds.app.profiles.ci]
            depends-on = []

            [builds.docs]
            platform = "command"
            command = ["make", "docs"]
            """
        )
    )
    config = buildsys.load_config(path, PluginHost(entry_points=False).load(), host_os="linux")
    assert names(select(config.builds, ["app"])) == ["lib", "app"]
    assert names(select(config.builds, tags=["release"])) == ["lib", "app"]
    assert names(select(config.builds_for("ci"), ["app"])) == ["app"]
    assert leaves(config.builds) == ["app", "docs"]
    assert '"app" -> "lib";' in to_dot(config.builds)
