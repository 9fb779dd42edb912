"""Platforms built into buildsys; they register through the same hook as plugins."""
