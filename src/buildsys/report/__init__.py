"""Reporters: plugins implementing the observer hooks, registered for one run."""
