"""buildsys._prefix: patterns moved under a directory, for a build's cwd and a workspace root."""

import pytest

from buildsys._prefix import prefix_patterns


@pytest.mark.parametrize("directory", [".", "", "/"])
def test_the_project_root_leaves_patterns_as_written(directory):
    assert prefix_patterns(["src/**", "!/dist/**"], directory, anchored=True) == (
        "src/**",
        "!/dist/**",
    )


def test_a_negation_stays_in_front_and_a_leading_slash_is_not_doubled():
    patterns = ["src/**", "/pnpm-lock.yaml", "!dist/**", "!/node_modules/**"]
    assert prefix_patterns(patterns, "packages/a", anchored=False) == (
        "packages/a/src/**",
        "packages/a/pnpm-lock.yaml",
        "!packages/a/dist/**",
        "!packages/a/node_modules/**",
    )
    assert prefix_patterns(patterns, "js", anchored=True) == (
        "/js/src/**",
        "/js/pnpm-lock.yaml",
        "!/js/dist/**",
        "!/js/node_modules/**",
    )


def test_the_directory_is_normalised_first():
    assert prefix_patterns(["a"], "./js/", anchored=True) == ("/js/a",)
    assert prefix_patterns(["a"], "js/./pkg", anchored=False) == ("js/pkg/a",)
