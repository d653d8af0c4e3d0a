"""``axonize-gateway``: flags, configuration and serving (being written)."""

import sys


def main(argv=None) -> int:
    print("axonize-gateway: not yet implemented", file=sys.stderr)
    return 2
