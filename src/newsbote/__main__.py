"""``python -m newsbote``: the same as the ``newsbote`` command."""

from newsbote.cli import main

main()
