#!/usr/bin/env python3
"""Large-network benchmark (issue 23): torchvision CNNs at 224x224, default compile.

Exports mobilenet_v2, efficientnet_b0, densenet121 and resnet18 (1000 classes, untrained
weights: only shapes matter) to ONNX in a cache folder outside the repository, then runs
`rnc compile --onnx FILE --crossbars N --json` with the defaults at 1.0x and 2.0x of each
network's ISAAC-like footprint (its tile count at D = 1, what `baseline_crossbars` reports)
under /usr/bin/time and prints one table row per run. Goal: each run <= 30 s and <= 500 MB.

Usage: scripts/large-nets.sh [--rnc PATH] [--cache DIR] [--nets a,b] [--factors 1.0,2.0]
                             [--extra "--effort fast"] [--csv OUT]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

NETS = ["mobilenet_v2", "efficientnet_b0", "densenet121", "resnet18"]


def export(name, path):
    """Writes torchvision's `name` (1000 classes, untrained) as ONNX at 224x224."""
    import torch
    import torchvision

    model = getattr(torchvision.models, name)(weights=None, num_classes=1000).eval()
    x = torch.zeros(1, 3, 224, 224)
    tmp = path + ".part"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=13)
    os.replace(tmp, path)


def inspect_tiles(rnc, onnx):
    out = subprocess.run([rnc, "inspect", "--onnx", onnx, "--json"], check=True,
                         capture_output=True, text=True).stdout
    d = json.loads(out)
    return d["tiles"], len(d["layers"])


def timed_compile(rnc, onnx, crossbars, extra):
    """Runs one default compile; returns (summary, wall s, user s, peak KB)."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-o", tf.name, "-f", "%e %U %M", rnc, "compile", "--onnx", onnx,
               "--crossbars", str(crossbars), "--json"] + extra
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"rnc failed ({res.returncode}) on {onnx} @{crossbars}:\n{res.stderr}")
        wall, user, kb = tf.read().split()[-3:]
    return json.loads(res.stdout), float(wall), float(user), int(kb)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rnc", default=os.path.join(target, "release", "rnc"))
    ap.add_argument("--cache", default=os.path.join(target, "large-nets"))
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--factors", default="1.0,2.0")
    ap.add_argument("--extra", default="", help="extra rnc compile flags, space separated")
    ap.add_argument("--csv", help="also write the table as CSV here")
    a = ap.parse_args()

    os.makedirs(a.cache, exist_ok=True)
    rows = []
    hdr = ("network", "layers", "base", "factor", "budget", "used", "speedup", "efficiency",
           "gap", "layout", "wall_s", "user_s", "peak_MB")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for name in a.nets.split(","):
        onnx = os.path.join(a.cache, f"{name}-224.onnx")
        if not os.path.exists(onnx):
            print(f"exporting {name} -> {onnx}", file=sys.stderr)
            export(name, onnx)
        base, layers = inspect_tiles(a.rnc, onnx)
        for f in a.factors.split(","):
            budget = round(float(f) * base)
            s, wall, user, kb = timed_compile(a.rnc, onnx, budget, a.extra.split())
            if s["baseline_crossbars"] != base:
                sys.exit(f"{name}: baseline_crossbars {s['baseline_crossbars']} != tiles {base}")
            layout = f"D={s['depth_split']} {s['depthwise']}"
            row = (name, layers, base, f, budget,
                   s["crossbars_used"], f"{s['speedup']:.2f}", f"{s['contention_efficiency']:.2f}",
                   f"{s['optimality_gap']:.2f}", layout, f"{wall:.1f}", f"{user:.1f}",
                   f"{kb / 1024:.0f}")
            rows.append(row)
            print("| " + " | ".join(str(x) for x in row) + " |", flush=True)
    if a.csv:
        with open(a.csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(hdr)
            w.writerows(rows)


if __name__ == "__main__":
    main()
