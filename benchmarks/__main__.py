"""``python -m benchmarks``: see ``benchmarks.harness``."""

if __name__ == "__main__":
    import sys

    from benchmarks.harness import main

    sys.exit(main())
