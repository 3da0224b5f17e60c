"""``python -m bench`` (``make bench``). Guarded: worker processes started with
spawn or forkserver import this module again and must not run the benchmark."""

if __name__ == "__main__":
    from .runner import main

    raise SystemExit(main())
