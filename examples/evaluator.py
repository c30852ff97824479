#!/usr/bin/env python3
"""Example accuracy evaluator for `rnc search --accuracy external:CMD`.

Run as:
    rnc search --budget 168 --accuracy "external:python3 examples/evaluator.py"

Protocol (JSON lines, one object per line):
  * rnc starts this program once per search and writes one line per candidate to its stdin:
        {"id": 17, "genome": {"ks": [16 kernel sizes], "e": [16 expand ratios], "d": [4 depths]}}
    A generation's candidates arrive together; more generations follow until stdin closes.
  * For every candidate, print one line to stdout and flush it:
        {"id": 17, "accuracy": 0.912}
    accuracy is a fraction in 0..1; answers may come in any order.
  * stdout carries answers only: print logs and progress to stderr (rnc keeps it in
    <out>/evaluator.log and quotes its end if something goes wrong).
  * Exit when stdin is closed. Each answer must come within --eval-timeout seconds
    (default 1800), counted from the previous answer or the batch's start.

The genome describes an OFA MobileNetV3-small subnet: block i (0..15) belongs to stage i // 4
and is used only when i % 4 < d[i // 4]; ks[i] in {3, 5, 7}, e[i] in {3, 4, 6}, d in {2, 3, 4}.
rnc sends genes of unused blocks in canonical form (3 and 3).

This example scores candidates with a toy formula so it runs anywhere. Replace `accuracy()`
with your own evaluation; the structure around it stays the same.
"""

import json
import math
import sys


def load_model():
    """Load whatever is shared by all candidates, once, at start-up.

    With PyTorch and a trained weight-sharing supernet this is where you would build the
    supernet, load its weights, move it to the GPU and prepare the validation data loader, e.g.

        supernet = MySupernet(); supernet.load_state_dict(torch.load("supernet.pt"))
        supernet.cuda().eval(); loader = make_val_loader(batch_size=256)
    """
    return None


def accuracy(model, genome):
    """Accuracy (0..1) of the subnet described by `genome`.

    With a supernet: activate the subnet (for OFA-style supernets,
    `supernet.set_active_subnet(ks=genome["ks"], e=genome["e"], d=genome["d"])`), extract it,
    recalibrate batch-norm statistics on a few training batches, then evaluate on the
    validation set (optionally after a short fine-tune) and return correct / total.

    Toy stand-in: bigger subnets (larger kernels, expand ratios, depths) score higher with
    diminishing returns, so the search faces a real accuracy / speed trade-off.
    """
    ks, e, d = genome["ks"], genome["e"], genome["d"]
    capacity = 0.0
    for i in range(16):
        if i % 4 < d[i // 4]:
            capacity += e[i] * ks[i] * ks[i] / (6 * 49)
    # capacity is in [8 * 27 / 294, 16] for the smallest to the largest subnet.
    return 0.70 + 0.22 * (1.0 - math.exp(-capacity / 5.0))


def main():
    model = load_model()
    print("evaluator ready", file=sys.stderr, flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        acc = accuracy(model, request["genome"])
        print(json.dumps({"id": request["id"], "accuracy": round(acc, 6)}), flush=True)
        print(f"candidate {request['id']}: accuracy {acc:.4f}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
