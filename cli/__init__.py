"""The ``capconnect`` command: the top floor, which may import every other package."""
