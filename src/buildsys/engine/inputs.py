"""A run's view of `inputs`: the one file tree it walks, and patterns that match nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.model import Config
    from ..config.patterns import FileTree
    from ..spec import BuildSpec

__all__ = ["Inputs"]


class Inputs:
    """The input tree of one run (walked lazily) and the warnings about its patterns."""

    def __init__(self, config: Config, profile: str | None) -> None:
        self.config = config
        self.profile = profile
        self._tree: FileTree | None = None

    @property
    def tree(self) -> FileTree:
        """Where this run walks `inputs`: one tree for every build, with git's rules
        unless `[run] inputs-respect-gitignore = false`."""
        if self._tree is None:
            from ..config.patterns import FileTree

            self._tree = FileTree.for_inputs(
                self.config.root, self.config.run.inputs_respect_gitignore
            )
        return self._tree

    def warnings(self, spec: BuildSpec, *, walked: bool = True, planned: bool = False) -> list[str]:
        """A warning for each `inputs` pattern of `spec` that matches no file.

        What the last walk of these patterns found (hashing them for the cache
        key walks them), unless `walked` is false or none happened: then a walk now.
        `planned`: nothing has run yet (check, --dry-run), so a pattern that may
        match what a build it depends on writes is not warned about.
        """
        if not spec.inputs:
            return []
        from ..config.patterns import PatternSet, may_overlap

        tree = self.tree
        unmatched = tree.unmatched.get(spec.inputs) if walked else None
        if unmatched is None:
            PatternSet(spec.inputs).files(self.config.root, tree)
            unmatched = tree.unmatched[spec.inputs]
        if planned and unmatched:
            upstream = self._upstream_outputs(spec)
            unmatched = tuple(
                p for p in unmatched if not any(may_overlap(p, out) for out in upstream)
            )
        why = " (files git ignores are left out)" if tree.ignore is not None else ""
        return [f"inputs pattern {pattern!r} matches no file{why}" for pattern in unmatched]

    def _upstream_outputs(self, spec: BuildSpec) -> list[str]:
        """The positive `outputs` patterns of every build `spec` depends on, at any depth."""
        outputs: list[str] = []
        seen: set[str] = set()
        pending = list(self.config.get(spec.name).for_profile(self.profile).depends_on)
        while pending:
            name = pending.pop()
            if name in seen or name not in self.config.names:
                continue
            seen.add(name)
            build = self.config.get(name).for_profile(self.profile)
            outputs.extend(p for p in build.outputs or () if not p.startswith("!"))
            pending.extend(build.depends_on)
        return outputs
