"""buildsys.config._locate.KeyLines: the line each TOML key is written on, for error messages."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from buildsys.config._locate import KeyLines

VALID_CORPUS = Path(__file__).parent / "config_corpus" / "valid"


def lines_of(text: str) -> KeyLines:
    # Every document here is valid TOML: KeyLines only ever has to read what tomllib read.
    tomllib.loads(text)
    return KeyLines(text)


def test_headers_and_keys():
    kl = lines_of(
        "# a comment\n"
        "[run]\n"
        'timeout = "20m"\n'
        "\n"
        "[builds.web]\n"
        'platform = "web"\n'
        "[builds.web.profiles.release]\n"
        "retries = 2\n"
    )
    assert kl.line("run") == 2
    assert kl.line("run", "timeout") == 3
    assert kl.line("builds", "web") == 5
    assert kl.line("builds", "web", "platform") == 6
    assert kl.line("builds", "web", "profiles", "release") == 7
    assert kl.line("builds", "web", "profiles", "release", "retries") == 8


def test_line_falls_back_to_the_nearest_written_ancestor():
    kl = lines_of('[builds.web]\nplatform = "web"\n')
    assert kl.line("builds", "web", "timeout") == 1
    assert kl.line("builds", "web", "profiles", "x", "y") == 1
    assert kl.line("nothing") is None
    assert kl.line() is None


def test_has_is_exact():
    kl = lines_of('[builds.web]\nplatform = "web"\n')
    assert kl.has("builds", "web")
    assert kl.has("builds", "web", "platform")
    assert not kl.has("builds", "web", "timeout")
    assert not kl.has("builds", "we")


def test_empty_and_comment_only_documents():
    assert KeyLines("").line("run") is None
    assert KeyLines("# [run]\n# timeout = 1\n").line("run") is None


def test_dotted_keys():
    kl = lines_of(
        "[builds]\n"
        'web.platform = "web"\n'
        'web.env.NODE_ENV = "production"\n'
        'api . platform = "command"\n'
    )
    assert kl.line("builds", "web", "platform") == 2
    assert kl.line("builds", "web", "env", "NODE_ENV") == 3
    assert kl.line("builds", "api", "platform") == 4


def test_top_level_dotted_keys():
    kl = lines_of('\nbuilds.web.platform = "web"\nbuilds.web.retries = 1\n')
    assert kl.line("builds", "web", "platform") == 2
    assert kl.line("builds", "web", "retries") == 3


def test_quoted_keys_and_headers():
    kl = lines_of(
        '[builds."my.app"]\n'
        "platform = 'web'\n"
        '"quoted key" = 1\n'
        "'literal key' = 2\n"
        '"esc\\"aped" = 3\n'
        "[ builds . 'other' ]\n"
        "x = 1\n"
    )
    assert kl.line("builds", "my.app") == 1
    assert kl.line("builds", "my.app", "platform") == 2
    assert kl.line("builds", "my.app", "quoted key") == 3
    assert kl.line("builds", "my.app", "literal key") == 4
    assert kl.line("builds", "my.app", 'esc"aped') == 5
    assert kl.line("builds", "other") == 6
    assert kl.line("builds", "other", "x") == 7
    assert not kl.has("builds", "my")


def test_inline_tables():
    kl = lines_of(
        "[builds]\n"
        'web = { platform = "web", env = { A = "1", B.C = "2" } }\n'
        'api = { platform = "command", command = ["go", "build"], retries = 1 }\n'
        "after = 1\n"
    )
    assert kl.line("builds", "web") == 2
    assert kl.line("builds", "web", "platform") == 2
    assert kl.line("builds", "web", "env", "A") == 2
    assert kl.line("builds", "web", "env", "B", "C") == 2
    assert kl.line("builds", "api", "retries") == 3
    assert kl.line("builds", "after") == 4


def test_inline_tables_inside_arrays():
    kl = lines_of('a = [ { x = 1 },\n  { y = "]" } ]\nb = 3\n')
    assert kl.line("a", "x") == 1
    assert kl.line("a", "y") == 2
    assert kl.line("b") == 3


def test_multiline_arrays_with_comments():
    kl = lines_of(
        "[builds.app]\n"
        "command = [\n"
        '  "make",  # retries = 1\n'
        "  # [builds.fake]\n"
        '  "all",\n'
        "  [1, 2],\n"
        "]\n"
        "retries = 2\n"
    )
    assert kl.line("builds", "app", "command") == 2
    assert kl.line("builds", "app", "retries") == 8
    assert not kl.has("builds", "fake")


def test_comments_after_keys_and_headers():
    kl = lines_of('[run] # [builds.fake]\ntimeout = "1m" # retries = 3\nretries = 1\n')
    assert kl.line("run", "timeout") == 2
    assert kl.line("run", "retries") == 3
    assert not kl.has("builds", "fake")


@pytest.mark.parametrize("quote", ['"""', "'''"])
def test_multiline_strings_are_not_keys(quote):
    kl = lines_of(
        f"[builds.app]\nscript = {quote}\n[fake]\nkey = 1\n[[fake.array]]\n{quote}\nretries = 2\n"
    )
    assert kl.line("builds", "app", "script") == 2
    assert kl.line("builds", "app", "retries") == 7
    assert not kl.has("fake")
    assert not kl.has("builds", "app", "key")


def test_multiline_string_ending_in_quotes():
    kl = lines_of('a = """say "hi""""\n[fake]\nb = 1\n')
    assert kl.line("fake", "b") == 3  # here [fake] is real: after the string
    kl = lines_of('a = """ends with two quotes"""""\nb = 2\n')
    assert kl.line("b") == 2


def test_multiline_strings_in_arrays_and_inline_tables():
    kl = lines_of("a = [\n'''\n[fake]\nk = 1\n''',\n]\ne = { s = \"\"\"x = 1\"\"\" }\nb = 2\n")
    assert kl.line("b") == 8
    assert not kl.has("fake")
    assert not kl.has("x")


def test_single_line_strings_with_special_characters():
    kl = lines_of(
        'a = "x # y = [z]"\nb = "quote \\" ] } , = "\nc = \'C:\\\'\nd = "back\\\\"\ne = 1\n'
    )
    assert [kl.line(k) for k in "abcde"] == [1, 2, 3, 4, 5]


def test_values_of_other_types():
    kl = lines_of("d = 1979-05-27T07:32:00Z\nf = -1.5e3\nt = true\ni = 0x1F\nn = nan\nz = 1\n")
    assert [kl.line(k) for k in "dftinz"] == [1, 2, 3, 4, 5, 6]


def test_array_of_tables_header():
    kl = lines_of("[[plugins]]\nname = 'a'\n[[plugins]]\nname = 'b'\n[after]\nx = 1\n")
    assert kl.line("plugins") == 1  # the first one
    assert kl.line("plugins", "name") == 2
    assert kl.line("after", "x") == 6


def test_crlf_line_endings():
    kl = lines_of('[run]\r\ntimeout = "1m"\r\n\r\n[builds.a]\r\nplatform = "x"\r\n')
    assert kl.line("run", "timeout") == 2
    assert kl.line("builds", "a") == 4
    assert kl.line("builds", "a", "platform") == 5


def test_first_occurrence_wins():
    kl = lines_of("[builds.a.profiles.x]\nretries = 1\n[builds.a]\nplatform = 'p'\n")
    assert kl.line("builds", "a") == 3
    assert kl.line("builds", "a", "profiles", "x") == 1


def test_unknown_syntax_is_skipped_without_hanging():
    # Not valid TOML (load_config never asks KeyLines about such a file), but it
    # must neither raise nor loop forever.
    kl = KeyLines('[builds.a\n= 1\n"unterminated\nkey = {\nx = [1,\nlast = 1')
    assert kl.line("builds", "a") == 1


@pytest.mark.parametrize("path", sorted(VALID_CORPUS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_key_of_the_valid_corpus_is_found(path):
    text = path.read_text()
    kl = KeyLines(text)
    source = text.splitlines()

    def walk(table: dict, prefix: tuple[str, ...]) -> None:
        for key, value in table.items():
            here = (*prefix, key)
            if isinstance(value, dict):
                walk(value, here)
                continue
            assert kl.has(*here), here
            assert key in source[kl.line(*here) - 1], (here, kl.line(*here))

    walk(tomllib.loads(text), ())


# -- implied parent tables and escaped quotes ------------------------------------------


def test_parent_of_a_dotted_key_has_the_line_of_its_first_key():
    kl = lines_of('[builds]\nweb.platform = "web"\napi.platform = "command"\n')
    assert kl.line("builds", "web") == 2
    assert kl.line("builds", "api") == 3


def test_parent_of_a_dotted_header_has_the_line_of_the_header():
    kl = lines_of("[run]\nretries = 1\n[buidls.app]\nx = 1\n")
    assert kl.line("buidls") == 3


def test_multiline_basic_string_with_escaped_quotes():
    kl = lines_of('a = """x \\""" y\n[fake]\nk = 1\n"""\nb = 2\n')
    assert not kl.has("fake")
    assert kl.line("b") == 5
