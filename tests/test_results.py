"""The result classes of SPEC section 4, as a library user sees them."""

from __future__ import annotations

import attrs
import pytest

from buildsys import BuildResult, ExecutionResult, Status
from conftest import EXECUTION_FIELDS

SPEC_FIELDS = {"results", *EXECUTION_FIELDS}


def _result(*statuses: Status, interrupted: bool = False) -> ExecutionResult:
    return ExecutionResult(
        results=tuple(BuildResult(f"b{i}", "command", s) for i, s in enumerate(statuses)),
        interrupted=interrupted,
    )


def test_every_spec_field_is_an_attrs_field():
    """`attrs.asdict` and `attrs.fields` show the counts, not only attribute access."""
    result = _result(Status.SUCCEEDED, Status.CACHED, Status.FAILED, Status.SKIPPED)
    assert {f.name for f in attrs.fields(ExecutionResult)} >= SPEC_FIELDS
    data = attrs.asdict(result, recurse=False)
    assert {k: data[k] for k in SPEC_FIELDS - {"results", "total_duration"}} == {
        "success_count": 1,  # the counts partition the results: cached ones apart
        "failure_count": 1,
        "skipped_count": 1,
        "cancelled_count": 0,
        "cached_count": 1,
        "all_completed": True,
        "ok": False,
    }


@pytest.mark.parametrize(
    ("statuses", "interrupted", "ok", "all_completed"),
    [
        ((Status.SUCCEEDED, Status.SKIPPED), False, True, True),
        ((Status.TIMED_OUT,), False, False, True),
        ((Status.SUCCEEDED, Status.CANCELLED), False, False, False),
        ((Status.SUCCEEDED,), True, False, False),
    ],
)
def test_verdicts(statuses, interrupted, ok, all_completed):
    result = _result(*statuses, interrupted=interrupted)
    assert (result.ok, result.all_completed, bool(result)) == (ok, all_completed, ok)


def test_counts_follow_the_results_through_evolve_and_cannot_be_passed_in():
    result = _result(Status.FAILED)
    assert not attrs.evolve(result, results=()).failure_count
    assert attrs.evolve(result, results=()).ok
    with pytest.raises(TypeError):
        ExecutionResult(results=(), ok=False)  # type: ignore[call-arg]


def test_results_are_frozen():
    result = _result(Status.SUCCEEDED)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.results[0].status = Status.FAILED  # type: ignore[misc]


def test_the_counts_partition_the_results():
    """Each build is counted once: SPEC lists cached builds and successes apart."""
    result = _result(*Status, Status.CACHED, Status.TIMED_OUT)
    counts = (
        result.success_count,
        result.failure_count,
        result.skipped_count,
        result.cancelled_count,
        result.cached_count,
    )
    assert sum(counts) == len(result.results)
    assert counts == (1, 3, 1, 1, 2)  # timed out counts as a failure


def test_status_accepts_its_string_value():
    result = BuildResult(name="a", platform="p", status="failed")
    assert result.status is Status.FAILED
    assert attrs.evolve(result, status="cached").status is Status.CACHED


def test_an_unknown_status_names_the_allowed_values():
    with pytest.raises(ValueError, match=r"'done'.*succeeded, failed, timed_out"):
        BuildResult(name="a", platform="p", status="done")


def test_a_single_str_is_one_warning_suggestion_or_artifact():
    from buildsys import BuildError

    result = BuildResult(
        name="a", platform="p", status=Status.FAILED, warnings="ww", artifacts="out.bin"
    )
    assert result.warnings == ("ww",)
    assert result.artifacts == ("out.bin",)
    assert BuildError("m", suggestions="install foo").suggestions == ("install foo",)
    assert BuildError("m", suggestions=["a", "b"]).suggestions == ("a", "b")
    from buildsys import BuildFailed

    assert BuildFailed("m", suggestions="install foo").suggestions == ("install foo",)
    from buildsys.engine.job import Job

    assert Job("b", depends_on="a").depends_on == ("a",)  # the same converter everywhere
