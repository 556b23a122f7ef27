#!/usr/bin/env python3
"""bench/interleave.py ROUNDS CMD [CMD...]: run the commands in turns, ROUNDS
times (after 2 untimed runs each), and print the median, the 10th percentile
and the minimum wall time of each. Taking turns spreads a busy phase of a
shared machine over all commands, which consecutive runs of one command (as
hyperfine does them) cannot. Each CMD is one string, split like a shell would
(shlex); its output is discarded. A CMD of the form "SETUP ;; TIMED" runs
SETUP (untimed) before each run of TIMED."""
import shlex
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    setups, cmds = [], []
    for arg in sys.argv[2:]:
        setup, _, timed = arg.rpartition(" ;; ")
        setups.append(shlex.split(setup) if setup else None)
        cmds.append(shlex.split(timed))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    for s, c in zip(setups, cmds):
        for _ in range(2):
            if s:
                subprocess.run(s, **quiet)
            subprocess.run(c, **quiet)
    times = [[] for _ in cmds]
    for _ in range(rounds):
        for s, c, t in zip(setups, cmds, times):
            if s:
                subprocess.run(s, **quiet)
            t0 = time.perf_counter()
            subprocess.run(c, **quiet)
            t.append((time.perf_counter() - t0) * 1000)
    for c, t in zip(cmds, times):
        t.sort()
        print(f"median {statistics.median(t):7.2f}  p10 {t[len(t) // 10]:7.2f}  "
              f"min {t[0]:7.2f} ms  {' '.join(c)}")


main()
