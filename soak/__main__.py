"""``python -m soak``. Guarded: worker processes import this package again."""

if __name__ == "__main__":
    from .runner import main

    raise SystemExit(main())
