"""The `capconnect` command line."""
def main() -> None:  # replaced below
    pass
