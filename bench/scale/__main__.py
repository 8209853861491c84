"""``python -m bench.scale``: see :mod:`bench.scale.run`."""

import logging

from bench.scale.run import main

logging.basicConfig(level=logging.WARNING)
main()
