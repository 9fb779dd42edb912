"""The `buildsys` command: argument parsing, the commands, and `buildsys init`.

Owns the argparse parser (`parser.py`), the commands (`build.py`;
`inspect.py` for `list`, `graph`, `plugins` and `check`;
`cache_commands.py`; `scaffold.py`, what `init` writes; `schema.py`, the
JSON Schema of builds.toml), and `main.py`:
running a command, its exit code, and the signal handling the library never
installs. It is the top stage: it may import every other stage, and nothing
but `__main__` imports it.
"""
