#!/usr/bin/python3
"""Synthetic day-ahead PV forecasts for the replay's --forecast-file.

There is no archive of real day-ahead forecasts in the test data, so this
makes stand-ins from a profile's own PV: each day's PV times one random
factor, lognormal with the given sigma (0: the true PV). Real forecasts err
within the day too; this isolates how much day-level error the battery plan
stands. Usage: bench/dayahead-synth.py PROFILE.csv SIGMA SEED > forecast.csv
"""
import csv
import math
import random
import sys


def main():
    path, sigma, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["time", "GG"])
    factor, day = 1.0, None
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        pv = header.index("GG")
        for row in rows:
            if row[0][:10] != day:
                day = row[0][:10]
                factor = math.exp(rng.gauss(0, sigma)) if sigma > 0 else 1.0
            out.writerow([row[0], "%.4f" % (float(row[pv]) * factor)])


if __name__ == "__main__":
    main()
