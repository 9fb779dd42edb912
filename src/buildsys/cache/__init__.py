"""The content-hash cache: what a build's key is made of, and where its entries live.

Owns the store (content-addressed blobs and one manifest per key, verified on
the way out, evicted by size), the keys a run computes for its builds (and why
one missed), input hashing with the stat memo and its racy-timestamp rule, the
toolchain memo that keeps `check` and `fingerprint` answers between runs, and
the stat witnesses a replay trusts. It may import `config/` (patterns, the
build graph), `plugin/`, `host/` and the top-level value modules; it never
imports `report/`, its sibling.
"""
