"""buildsys._durations: the "90s" / "20m" / "1h30m" durations of builds.toml, and their display."""

from __future__ import annotations

import math

import pytest

from buildsys._durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("20m", 1200.0),
        ("1h30m", 5400.0),
        ("1h", 3600.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1h1m1s", 3661.0),
        ("2m500ms", 120.5),
        ("1.5h", 5400.0),
        ("0.25s", 0.25),
        ("0s", 0.0),
        ("90", 90.0),
        ("2.5", 2.5),
        ("0", 0.0),
        (" 20m ", 1200.0),
        ("1h 30m", 5400.0),
        ("1H30M", 5400.0),
        (45, 45.0),
        (2.5, 2.5),
        (0, 0.0),
    ],
)
def test_parse_duration(value, seconds):
    result = parse_duration(value)
    assert result == seconds
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "value",
    ["15x", "", "   ", "m", "s5", "1m1m", "1s1s", "1.5.3s", "1m-", "ten minutes", "1d", "5 sec"],
)
def test_parse_duration_rejects_unreadable_text(value):
    with pytest.raises(ValueError, match="as a duration") as info:
        parse_duration(value)
    message = str(info.value)
    assert repr(value) in message
    assert '"90s"' in message and '"20m"' in message and '"1h30m"' in message


@pytest.mark.parametrize("value", ["-1", "-0.5", -1, -0.001])
def test_parse_duration_rejects_negative_numbers(value):
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(value)


def test_parse_duration_rejects_negative_units():
    with pytest.raises(ValueError, match="-5s"):
        parse_duration("-5s")


@pytest.mark.parametrize("value", [True, False])
def test_parse_duration_rejects_booleans(value):
    # bool is an int in Python; `timeout = true` must not mean one second.
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [None, [1], {"m": 5}, b"90s"])
def test_parse_duration_rejects_other_types(value):
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.4, "0.4s"),
        (0.5, "0.5s"),
        (1, "1s"),
        (5.0, "5s"),
        (10, "10s"),
        (12.34, "12.3s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (90.4, "1m30s"),
        (600, "10m"),
        (3600, "1h"),
        (3661, "1h1m1s"),
        (5400, "1h30m"),
        (7205, "2h5s"),
        (90000, "25h"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, 0.5, 7, 60, 90, 3600, 3661, 5400, 86400])
def test_format_then_parse_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


# -- known bugs ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, "nan"])
def test_parse_duration_rejects_nan(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "python_word", "toml_word"),
    [(True, "True", "boolean"), ([1], "list", "array"), ({"m": 5}, "dict", "table")],
)
def test_type_errors_speak_toml(value, python_word, toml_word):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    message = str(info.value)
    assert toml_word in message
    assert not message.endswith(f"got {python_word}")
