"""The ``pathdyn`` command-line tool. Each subcommand is a module of this package."""
