"""Benchmark of rnc.ray.search (run after `pip install "./python[ray]"`):

    python python/benches/ray_bench.py [--population 8] [--generations 2] [--delay 0.2]

An evaluator that sleeps `delay` seconds per candidate, scored by 1 and then 2 actors on a
local Ray instance (127.0.0.1, 4 logical CPUs): the accuracy phase (time spent scoring,
without the driver's hardware side) should halve with 2 actors. Both runs must give the same
files. Prints one line per actor count and the ratio.
"""

import argparse
import os
import sys
import tempfile
import time

import ray

import rnc
import rnc.ray


class Sleeper:
    def __init__(self, delay):
        self.delay = delay

    def __call__(self, genome):
        time.sleep(self.delay)
        return round(0.7 + 0.01 * sum(genome["e"]) / 16, 6)


def run(actors, args, out):
    last = []
    t = time.monotonic()
    rnc.ray.search(budget=168, evaluate=Sleeper, evaluate_args=(args.delay,), actors=actors,
                   population=args.population, generations=args.generations, seed=1,
                   input=32, out=out, progress=last.append)
    wall = time.monotonic() - t
    scored = sum(p.total for p in last if p.done == p.total)
    return last[-1].scoring_s, wall, scored


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--generations", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.2)
    args = ap.parse_args()
    if not hasattr(rnc, "Search"):
        sys.exit("this rnc has no rnc.Search")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=4, include_dashboard=False,
             _node_ip_address="127.0.0.1", log_to_driver=False)
    results = {}
    files = {}
    with tempfile.TemporaryDirectory() as d:
        for actors in (1, 2):
            out = os.path.join(d, f"a{actors}")
            scoring, wall, n = run(actors, args, out)
            results[actors] = scoring
            with open(os.path.join(out, "pareto.json"), "rb") as f:
                files[actors] = f.read()
            print(f"{actors} actor(s): accuracy phase {scoring:.2f} s for {n} candidates "
                  f"({args.delay} s each), whole search {wall:.2f} s")
    ray.shutdown()
    print(f"2 actors / 1 actor: {results[2] / results[1]:.2f} (ideal 0.50); "
          f"same pareto.json: {files[1] == files[2]}")


if __name__ == "__main__":
    main()
