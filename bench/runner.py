"""The command line: pick a size and cases, run them, print the tables."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import django

from . import django_setup


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .cases import CASES
    from .sizes import SIZES

    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark django-tasks-local against the raw executors and "
            "django-tasks-db."
        ),
    )
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--quick",
        dest="size",
        action="store_const",
        const="quick",
        help="fewer tasks and rounds (about half a minute)",
    )
    sizes.add_argument(
        "--tiny",
        dest="size",
        action="store_const",
        const="tiny",
        help="a few tasks per case: proves the benchmark runs, measures nothing",
    )
    parser.add_argument(
        "--only",
        metavar="CASE",
        action="append",
        choices=list(CASES),
        help="run only this case (repeatable): " + ", ".join(CASES),
    )
    parser.set_defaults(size="full")
    args = parser.parse_args(argv)
    args.size = SIZES[args.size]
    return args


def main(argv: list[str] | None = None) -> int:
    django_setup.configure()
    from .cases import CASES
    from .report import format_section, format_targets

    args = parse_args(argv)
    size = args.size
    print(
        f"django-tasks-local benchmark: size {size.name}, {size.rounds} rounds, "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs"
    )
    print("Contenders alternate each round; median, min and max are over rounds.\n")
    sys.stdout.flush()
    began = time.perf_counter()
    targets = []
    for name, case in CASES.items():
        if args.only and name not in args.only:
            continue
        section = case(size)
        targets += section.targets
        print(format_section(section), end="\n\n", flush=True)
    summary = format_targets(targets)
    if summary:
        print(summary, end="\n\n")
    print(f"Total time: {time.perf_counter() - began:.1f} s")
    return 0
