"""Benchmarks of the Python package (run after `pip install ./python`):

    python python/benches/bench.py

1. `import rnc` in a fresh interpreter (goal: <= 0.5 s), best of 5.
2. rnc.compile through Python against the plain library call (rnc::compile, timed inside
   the extension on the same network, hardware and options): goal within 5 %. Medians.
"""

import json
import statistics
import subprocess
import sys
import time

import rnc

CASES = [
    ("squeezenet1_1 @64, duplicate auto, fast", "squeezenet1_1",
     dict(crossbars=64, duplicate="auto", effort="fast"), 15),
    ("squeezenet1_1 @112, duplicate auto, default", "squeezenet1_1",
     dict(crossbars=112, duplicate="auto"), 5),
    ("mbv3-small @168, duplicate auto, default", "mbv3-small",
     dict(crossbars=168, duplicate="auto"), 5),
]


def import_time():
    best = float("inf")
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c",
             "import time; t = time.perf_counter(); import rnc; print(time.perf_counter() - t)"],
            capture_output=True, text=True, check=True)
        best = min(best, float(out.stdout))
    return best


def main():
    t = import_time()
    print(f"import rnc: {t * 1e3:.1f} ms (goal <= 500 ms)")
    hw = rnc.Hardware()
    for label, model, opts, reps in CASES:
        net = rnc.Network.zoo(model)
        rnc.compile(net, **opts)  # warm-up (page faults, thread pool)
        lib, py = [], []
        # Interleaved, so that load from elsewhere on the machine hits both alike.
        for _ in range(reps):
            lib += rnc._rnc._library_seconds(net._net, hw._hw, 8, json.dumps(opts), 1)
            t0 = time.perf_counter()
            rnc.compile(net, hardware=hw, **opts)
            py.append(time.perf_counter() - t0)
        ml, mp = statistics.median(lib), statistics.median(py)
        print(f"{label}: library {ml * 1e3:.1f} ms, Python {mp * 1e3:.1f} ms "
              f"({(mp / ml - 1) * 100:+.1f} %), {reps} runs each")


if __name__ == "__main__":
    main()
