"""Reporters: plugins implementing the observer hooks, registered for one run.

`wiring` picks and registers a run's reporters; `text` and `serialize` hold
their formatting as plain functions, which `replay` calls too.
"""
