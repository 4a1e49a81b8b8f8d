"""Reads a ctest LastTest.log of the end-to-end suite and prints how many tests ran and how many
were skipped (and why), per module and in all. With --min-real P, exits 1 when fewer than P percent
of the tests ran (were not skipped).

    real_summary.py LOG [--min-real P]
"""
import argparse
import collections
import re
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--min-real", type=float, default=0)
    opts = parser.parse_args()
    with open(opts.log, errors="replace") as f:
        log = f.read()
    total = skipped = 0
    reasons = collections.Counter()
    rows = []
    # One block per ctest test: "Test: e2e.NAME" ... "<end of output>".
    for block in log.split("<end of output>"):
        name = re.search(r"Test: e2e\.(\w+)", block)
        if not name:
            continue
        ran = re.search(r"^Ran (\d+) tests? in", block, re.M)
        n = int(ran.group(1)) if ran else 0
        skips = re.findall(r"\.\.\. skipped ['\"](.*)['\"]$", block, re.M)
        # A module skipped as a whole (setUpModule's SkipTest) runs no test at all.
        whole = re.findall(r"^(?:setUpModule|setUpClass) .*\.\.\. skipped ['\"](.*)['\"]$", block, re.M)
        k = len(skips)
        total += n
        skipped += min(k, n) if n else 0
        for r in skips:
            reasons[r] += 1
        rows.append((name.group(1), n, k, bool(whole)))
    width = max((len(r[0]) for r in rows), default=10)
    print("%-*s %5s %8s %6s" % (width, "module", "tests", "skipped", "real"))
    for name, n, k, whole in sorted(rows):
        print("%-*s %5d %8d %6d%s" % (width, name, n, k, max(n - k, 0), "  (module skipped)" if whole else ""))
    real = total - skipped
    percent = 100.0 * real / total if total else 0.0
    print("%-*s %5d %8d %6d  (%.0f%% ran for real)" % (width, "all", total, skipped, real, percent))
    if reasons:
        print("skipped, by reason:")
        for reason, count in reasons.most_common():
            print("  %3d  %s" % (count, reason))
    if percent < opts.min_real:
        print("fewer than %.0f%% of the end-to-end tests ran for real" % opts.min_real, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
