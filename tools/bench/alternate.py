#!/usr/bin/env python3
"""alternate-bench: compares builds or settings of pipeline-bench on a machine whose speed drifts.
Not a test: run it by hand on Release builds and read the figures it prints (README.md,
"Benchmark").

On a shared machine two runs of the same binary a few minutes apart can differ by 10-30 %, so two
builds measured one after the other say little about a change of a few per cent. This runs every
variant once per round, the variant that goes first moving round by round, and prints for each
figure each variant's median over the rounds and, against the first variant, the median of the
rounds' ratios and in how many rounds the figure came out higher: what the machine's drift does to
one round it mostly does to both runs of it.

usage: alternate.py --variant NAME=COMMAND --variant NAME=COMMAND [--variant ...] [--rounds 5]
                    [--bench-args ARGS]

COMMAND is a pipeline-bench executable, optionally preceded by environment settings:
  --variant base=build/release/tools/bench/pipeline-bench
  --variant one-arena="MALLOC_CONF=narenas:1 build/release/tools/bench/pipeline-bench"
--bench-args is given to every run (default below); keep the runs long enough to mean something.
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys

DEFAULT_BENCH_ARGS = ("--events 300000 --customers 50000 --pipeline-runs 3 --restore-runs 9 "
                      "--latency-seconds 1")

# The figures of a pipeline-bench run: a name, and the line that holds it.
FIGURES = [
    ("pipeline, events/s", r"^pipeline: +(\d+) events/s"),
    ("CPU per event, us", r"^cpu: .*?([\d.]+) us of CPU per event"),
    ("cores busy", r"^cpu: +([\d.]+) cores busy"),
    ("page faults", r"^faults: +(\d+) page faults"),
    ("huge-page faults", r"^faults: .*; (\d+) huge pages"),
    ("latency p50, ms", r"^latency: +p50 ([\d.]+) ms"),
    ("latency p99, ms", r"^latency: .*p99 ([\d.]+) ms"),
    ("restore, profiles/s", r"^restore: +(\d+) profiles/s"),
    ("compacted restore, profiles/s", r"^  compacted: +(\d+) profiles/s"),
]


class UsageError(Exception):
    pass


def parse_variant(text):
    """NAME=COMMAND -> (name, environment overrides, argv)."""
    name, separator, command = text.partition("=")
    if not separator or not name or not command.strip():
        raise UsageError(f"--variant {text!r}: expected NAME=COMMAND, e.g. "
                         "base=build/release/tools/bench/pipeline-bench")
    words = shlex.split(command)
    environment = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        environment[key] = value
    if not words:
        raise UsageError(f"--variant {text!r}: no executable after the environment settings")
    return name, environment, words


def figures_of(output):
    """The figures a run printed; None for a figure it did not print (e.g. a restore that was
    not measured)."""
    found = {}
    for name, pattern in FIGURES:
        match = re.search(pattern, output, re.MULTILINE)
        found[name] = float(match.group(1)) if match else None
    return found


def run_once(environment, argv, bench_args):
    try:
        done = subprocess.run(argv + bench_args, env={**os.environ, **environment},
                              capture_output=True, text=True, check=False)
    except OSError as error:
        raise RuntimeError(f"cannot run {shlex.join(argv)}: {error}") from error
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        raise RuntimeError(f"{shlex.join(argv)} exited {done.returncode}:\n{tail}")
    figures = figures_of(done.stdout)
    if figures[FIGURES[0][0]] is None:
        raise RuntimeError(f"{shlex.join(argv)} printed no pipeline figure: is it pipeline-bench?")
    return figures


def format_value(value):
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}"


def report(names, rounds):
    """Per figure: each variant's median, and each other variant's median ratio to the first."""
    base = names[0]
    table = [["figure", *names]]
    for figure, _ in FIGURES:
        row = [figure]
        for name in names:
            values = [r[name][figure] for r in rounds if r[name][figure] is not None]
            cell = format_value(statistics.median(values)) if values else "-"
            if name != base:
                ratios = [r[name][figure] / r[base][figure] for r in rounds
                          if r[name][figure] is not None and r[base][figure]]
                if ratios:
                    higher = sum(ratio > 1 for ratio in ratios)
                    cell += (f" x{statistics.median(ratios):.3f}"
                             f" ({higher} of {len(ratios)} higher)")
            row.append(cell)
        table.append(row)
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    rounds_text = "1 round" if len(rounds) == 1 else f"{len(rounds)} rounds"
    lines = [f"{rounds_text}; ratios are of each round's run over its run of '{base}'"]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width)
                                             for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=COMMAND",
                        help="a build or setting to compare; the first is what the others are "
                             "compared against (at least two)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="how many times each variant runs (default 5)")
    parser.add_argument("--bench-args", default=DEFAULT_BENCH_ARGS,
                        help=f"arguments of every run (default: {DEFAULT_BENCH_ARGS})")
    args = parser.parse_args()
    try:
        variants = [parse_variant(text) for text in args.variant]
        if len(variants) < 2:
            raise UsageError("give at least two --variant NAME=COMMAND to compare")
        names = [name for name, _, _ in variants]
        if len(set(names)) != len(names):
            raise UsageError(f"variant names repeat: {', '.join(names)}")
        if args.rounds < 1:
            raise UsageError("--rounds must be at least 1")
    except UsageError as error:
        parser.error(str(error))  # exits 2
    bench_args = shlex.split(args.bench_args)

    rounds = []
    for number in range(args.rounds):
        # The variant that goes first moves round by round: a machine that speeds up or slows
        # down within a round then favours none of them.
        order = variants[number % len(variants):] + variants[:number % len(variants)]
        results = {}
        for name, environment, argv in order:
            try:
                results[name] = run_once(environment, argv, bench_args)
            except RuntimeError as error:
                print(f"alternate-bench: variant '{name}': {error}", file=sys.stderr)
                return 1
            summary = "; ".join(f"{figure} = {format_value(value)}"
                                for figure, value in results[name].items() if value is not None)
            print(f"round {number + 1} {name}: {summary}", file=sys.stderr, flush=True)
        rounds.append(results)
    print(report(names, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
