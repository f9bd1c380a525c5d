"""``python -m navref.training``: see :mod:`navref.training.cli`."""

from navref.training.cli import run

run()
