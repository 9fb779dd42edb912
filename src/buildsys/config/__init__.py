"""From builds.toml to a validated `Config`: the model, its keys, the loader and its checks.

Owns the model (`RunSettings`, `BuildConfig`, `Config`), the keys and their
converters, the loader (TOML line numbers, did-you-mean suggestions, one
`ConfigError` naming file, build, key and line), the output-overlap checks, the
dependency graph of the configured builds, and the `inputs`/`outputs` pattern
language with its gitignore matcher, which the cache reaches from above. It may
import `plugin/` (options are validated against the platform registry),
`host/`, and the top-level value modules.
"""
