"""Plugin hosting: the hooks, the manager that loads plugins, and the platform registry.

Owns the hookspecs (the plugin author's manual), the `hookimpl` marker, the
manager (entry points, a block list, each plugin loaded and called in
isolation), the platform registry with its options validation, the failure
catalogues builders ship, and the built-in `command` platform, which is
registered through the same hook as a third party's. It may import `host/`
(builders are handed a `Host` and a `BuildContext`) and the top-level value
modules, nothing above.
"""
