"""Secret masking: Masker, StreamMasker across chunk boundaries, and masking in build logs."""

from __future__ import annotations

import shlex
import sys

import pytest

import buildsys
from buildsys import BuildFailed, Status
from buildsys.engine.executor import ParallelExecutor
from buildsys.masking import MASK, Masker, is_secret_name
from conftest import py

SECRET = "s3cr3t-value-123"


def feed_all(masker, chunks):
    stream = masker.stream()
    return b"".join(stream.feed(c) for c in chunks) + stream.flush()


def test_stream_masker_masks_a_secret_split_at_every_boundary():
    masker = Masker({"MY_TOKEN": SECRET})
    data = f"before {SECRET} middle {SECRET}{SECRET} after".encode()
    expected = b"before *** middle ****** after"
    assert masker.data(data) == expected
    for i in range(len(data) + 1):
        assert feed_all(masker, [data[:i], data[i:]]) == expected, i


def test_stream_masker_masks_across_three_chunks_and_single_bytes():
    masker = Masker({"MY_TOKEN": SECRET})
    data = f"x{SECRET}y".encode()
    expected = b"x***y"
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            assert feed_all(masker, [data[:i], data[i:j], data[j:]]) == expected, (i, j)
    assert feed_all(masker, [bytes([b]) for b in data]) == expected
    assert feed_all(masker, [b""] * 3 + [data] + [b""]) == expected


def test_stream_masker_prefers_the_longest_secret_at_every_boundary():
    masker = Masker({"SHORT_KEY": "abcdefgh", "LONG_KEY": "abcdefghijkl"})
    data = b"[abcdefghijkl][abcdefgh][abcdefghij]"
    expected = b"[***][***][***ij]"
    assert masker.data(data) == expected
    for i in range(len(data) + 1):
        assert feed_all(masker, [data[:i], data[i:]]) == expected, i


def test_stream_masker_without_secrets_passes_bytes_through():
    stream = Masker().stream()
    assert stream.feed(b"abc") == b"abc"
    assert stream.flush() == b""


def test_partial_secret_at_end_of_stream_is_emitted_unmasked():
    masker = Masker({"MY_TOKEN": SECRET})
    assert feed_all(masker, [b"tail: ", SECRET[:-1].encode()]) == b"tail: " + SECRET[:-1].encode()


def test_short_values_are_not_masked_and_reported():
    masker = Masker({"PIN": "1234567", "EMPTY": "", "API_TOKEN": "12345678"})
    assert masker.short_names == ("PIN",)
    assert masker.text("pin 1234567 token 12345678") == f"pin 1234567 token {MASK}"
    assert masker.data(b"1234567") == b"1234567"
    assert not Masker({"PIN": "1234"})  # nothing to mask
    assert Masker({"PIN": "1234"}).short_names == ("PIN",)


def test_unicode_secret_is_masked_in_text_and_bytes():
    secret = "pässwörd-ünïcode"
    masker = Masker({"PASSWORD": secret})
    assert masker.text(f"<{secret}>") == "<***>"
    data = f"<{secret}>".encode()
    for i in range(len(data) + 1):
        assert feed_all(masker, [data[:i], data[i:]]) == b"<***>", i


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("npm_token", True),
        ("DB_PASSWORD", True),
        ("PASSWD", True),
        ("CLIENT_SECRET", True),
        ("aws_secret_access", True),
        ("API_KEY", True),
        ("api_key", True),
        ("KEYBOARD", False),
        ("KEY_ID", False),
        ("PATH", False),
    ],
)
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_from_environment_picks_secret_names_and_listed_ones():
    env = {"GH_TOKEN": "ghp-aaaaaaaaaa", "PATH": "/usr/bin:/bin", "NPM_AUTH": "npm-bbbbbbbbbb"}
    masker = Masker.from_environment(env, ["NPM_AUTH", "NOT_SET"])
    assert masker.text(" ".join(env.values())) == "*** /usr/bin:/bin ***"


def test_for_run_masks_what_each_build_marks_secret():
    spec = buildsys.BuildSpec(
        name="app",
        platform="command",
        root="/p",
        cwd="/p",
        env={"API_KEY": "key-cccccccccc", "MODE": "release-build"},
        secret_env=("NPM_AUTH",),
    )
    env = {"GH_TOKEN": "ghp-aaaaaaaaaa", "NPM_AUTH": "npm-bbbbbbbbbb", "SHORT_TOKEN": "abc"}
    masker = Masker.for_run(env, [spec])
    text = "ghp-aaaaaaaaaa npm-bbbbbbbbbb key-cccccccccc release-build"
    assert masker.text(text) == "*** *** *** release-build"
    assert masker.short_names == ("SHORT_TOKEN",)


SPLIT_PRINT = """
s = sys.argv[1]
out = sys.stdout.buffer
out.write(b"token=" + s[:5].encode()); out.flush()
time.sleep(0.05)
out.write(s[5:].encode() + b" done\\n"); out.flush()
print("again", s, flush=True)
"""


def test_secret_printed_by_a_command_is_masked_in_log_and_tail(logs):
    results = []

    def fn(name):
        ctx = buildsys.current_context()
        results.append(ctx.run(py(SPLIT_PRINT, SECRET)))
        ctx.warn(f"used {SECRET}")

    ex = ParallelExecutor(masker=Masker({"MY_TOKEN": SECRET}), log_dir=logs)
    r = ex.execute(["b"], fn)["b"]
    assert r.status is Status.SUCCEEDED, r.errors
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"token=*** done\nagain ***\n"
    assert results[0].output_tail == ("token=*** done", "again ***")
    assert r.warnings == ("used ***",)


def test_short_secret_is_left_in_the_log(logs):
    masker = Masker({"PIN": "1234"})
    assert masker.short_names == ("PIN",)
    r = ParallelExecutor(masker=masker, log_dir=logs).execute(
        ["b"], lambda n: buildsys.current_context().run(py("print('pin 1234')"))
    )["b"]
    with open(r.log_path, "rb") as fh:
        assert fh.read() == b"pin 1234\n"


def test_secrets_are_masked_in_error_messages(logs):
    def fn(name):
        if name == "raises":
            raise BuildFailed(f"bad {SECRET}", [f"rotate {SECRET}"], context={"value": SECRET})
        if name == "unexpected":
            raise RuntimeError(f"oops {SECRET}")
        buildsys.current_context().run([sys.executable, "-c", "import sys; sys.exit(2)", SECRET])

    ex = ParallelExecutor(masker=Masker({"MY_TOKEN": SECRET}), log_dir=logs)
    result = ex.execute(["raises", "unexpected", "command"], fn)
    for r in result.results:
        assert r.status is Status.FAILED
        (error,) = r.errors
        assert SECRET not in error.message, r.name
        assert all(SECRET not in s for s in error.suggestions), r.name
        with open(r.log_path, "rb") as fh:
            assert SECRET.encode() not in fh.read(), r.name
    assert result["raises"].errors[0].message == "bad ***"
    assert result["raises"].errors[0].context["value"] == "***"
    assert result["command"].errors[0].message.endswith("sys.exit(2)' ***)")


def test_secret_cut_by_command_shortening_does_not_leak(logs):
    code = "import sys; sys.exit(2)"
    head = shlex.join([sys.executable, "-c", code, ""])[:-2]  # without the empty arg's ''
    pad = "p" * (150 - len(head) - 1)
    argv = [sys.executable, "-c", code, pad, SECRET]
    assert shlex.join(argv).index(SECRET) == 150  # the secret straddles the 160-char cut

    def fn(name):
        buildsys.current_context().run(argv)

    ex = ParallelExecutor(masker=Masker({"MY_TOKEN": SECRET}), log_dir=logs)
    (error,) = ex.execute(["command"], fn)["command"].errors
    assert error.code == "COMMAND_FAILED"
    assert SECRET[:6] not in error.message, error.message


def test_secret_in_failing_argv_is_masked_in_error_context(logs):
    def fn(name):
        buildsys.current_context().run(py("sys.exit(2)", SECRET))

    ex = ParallelExecutor(masker=Masker({"MY_TOKEN": SECRET}), log_dir=logs)
    (error,) = ex.execute(["command"], fn)["command"].errors
    assert SECRET not in repr(dict(error.context))
