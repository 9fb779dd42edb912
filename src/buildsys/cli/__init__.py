"""The `buildsys` command: argument parsing, the commands, and `buildsys init`.

Owns the argparse parser, one function per command (`build`, `list`, `check`,
`graph`, `plugins`, `cache`, `init`), the exit codes, the signal handling the
library never installs, and the scaffold `init` writes. It is the top stage:
it may import every other stage, and nothing but `__main__` imports it.
"""
