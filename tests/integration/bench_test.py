#!/usr/bin/env python3
"""pipeline-bench, small: it runs to the end and prints every figure, and --pipeline-runs
repeats the pipeline without touching what the restores read.

Two runs of a few thousand events on the embedded broker, with one pipeline run and with three.
Each must exit 0 and print the pipeline, cpu, latency and both restore lines; with three runs the
pipeline line gives their median within their range. The runs after the first write to topics of
their own: the restores then read about as many changelog records as after a single run, fewer
than one more per restored profile.

Then tools/bench/alternate.py, which compares variants of pipeline-bench round by round, reads
those figures: two variants of the same binary, two rounds, must give every figure's median per
variant and a ratio over two rounds; a single variant is a usage error (exit 2), and a variant
that prints no figures fails the comparison (exit 1).
"""

import argparse
import os
import re
import shlex
import subprocess
import sys

ARGS = ["--events", "3000", "--customers", "500", "--partitions", "4", "--latency-rate", "100",
        "--latency-seconds", "1", "--restore-runs", "1"]


def run_bench(bench, segments, pipeline_runs):
    done = subprocess.run([bench, *ARGS, "--segments", segments, "--pipeline-runs",
                           str(pipeline_runs)],
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, f"pipeline-bench exited {done.returncode}:\n{done.stderr}"
    return done.stdout


def figure(output, pattern):
    found = re.search(pattern, output, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{output}"
    return found


def kernel_counts_huge_pages():
    try:
        with open("/proc/vmstat", encoding="ascii") as vmstat:
            return any(line.startswith("thp_fault_alloc ") for line in vmstat)
    except OSError:
        return False


def restored(output):
    """The profiles and the changelog records the uncompacted restore read."""
    found = figure(output, r"^restore: .* \((\d+) profiles from (\d+) records")
    return int(found.group(1)), int(found.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline-bench", required=True)
    parser.add_argument("--segments", required=True, help="the segment file to run with")
    args = parser.parse_args()

    once = run_bench(args.pipeline_bench, args.segments, 1)
    thrice = run_bench(args.pipeline_bench, args.segments, 3)
    for output, runs in ((once, 1), (thrice, 3)):
        figure(output, r"^cpu: +[\d.]+ cores busy during the pipeline run, [\d.]+ us of CPU")
        faults = figure(output, r"^faults: +(\d+) page faults in the median run(.*)$")
        assert int(faults.group(1)) > 0, faults.group(0)
        if kernel_counts_huge_pages():
            by_run = re.fullmatch(r"; (\d+) huge pages \(2 MiB\) faulted in meanwhile, "
                                  r"machine-wide \(every run in order: ([\d ]+)\)",
                                  faults.group(2))
            assert by_run, faults.group(0)
            assert by_run.group(1) in by_run.group(2).split(), faults.group(0)
            assert len(by_run.group(2).split()) == runs, faults.group(0)
        figure(output, r"^latency: +p50 [\d.]+ ms, p99 [\d.]+ ms")
        figure(output, r"^  compacted: +\d+ profiles/s")
    assert "the median of" not in figure(once, r"^pipeline: .*$").group(0)
    median = figure(thrice, r"^pipeline: +(\d+) events/s end to end, the median of 3 runs "
                            r"\((\d+)-(\d+)\)")
    slowest, middle, fastest = (int(median.group(i)) for i in (2, 1, 3))
    assert 0 < slowest <= middle <= fastest, median.group(0)
    # Batches fall differently from run to run, so the record counts differ somewhat (by 30 % under
    # a sanitizer on a loaded machine). Each later run that wrote to the same changelog would add
    # at least one record for every profile it touched, and every run touches them all.
    profiles, records_once = restored(once)
    _, records_thrice = restored(thrice)
    assert records_thrice < records_once + profiles, (once, thrice)
    check_alternate(args.pipeline_bench, args.segments)
    print("pipeline-bench: every figure printed; the repeated runs left the changelog alone; "
          "alternate.py compares two variants")


def check_alternate(bench, segments):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "bench",
                          "alternate.py")
    base = f"base={shlex.quote(bench)}"
    lonely = subprocess.run([sys.executable, script, "--variant", base], capture_output=True,
                            text=True, timeout=60, check=False)
    assert lonely.returncode == 2, lonely
    assert "at least two" in lonely.stderr, lonely.stderr
    # Goes first in the first round, so nothing else runs.
    mute = subprocess.run([sys.executable, script, "--variant", "mute=true", "--variant", base],
                          capture_output=True, text=True, timeout=60, check=False)
    assert mute.returncode == 1, mute
    assert "printed no pipeline figure" in mute.stderr, mute.stderr
    done = subprocess.run([sys.executable, script, "--rounds", "2",
                           "--bench-args", shlex.join([*ARGS, "--segments", segments]),
                           "--variant", base,
                           "--variant", f"other=CDP_ALTERNATE_TEST=1 {shlex.quote(bench)}"],
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, f"alternate.py exited {done.returncode}:\n{done.stderr}"
    assert done.stdout.startswith("2 rounds;"), done.stdout
    for name in ("pipeline, events/s", "CPU per event, us", "page faults", "latency p99, ms",
                 "restore, profiles/s", "compacted restore, profiles/s"):
        figure(done.stdout, rf"^{re.escape(name)} +[\d,.]+ +[\d,.]+ x[\d.]+ \([012] of 2 higher\)$")
    # Each round prints a line per variant as it goes, the variant that goes first moving.
    progress = re.findall(r"^round (\d) (\w+):", done.stderr, re.MULTILINE)
    assert progress == [("1", "base"), ("1", "other"), ("2", "other"), ("2", "base")], progress


if __name__ == "__main__":
    main()
