#!/usr/bin/env python3
"""An evaluator for `rnc search --accuracy external:CMD` that scores candidates on a Ray
cluster: each candidate is sent to one of N Ray actors as soon as rnc writes it, so a
generation is scored in parallel across the cluster's GPUs.

Run as:
    rnc search --budget 168 --accuracy "external:python3 examples/ray_evaluator.py --actors 4 --gpus 1"

It joins the running cluster (`ray.init(address="auto")`, or the one named by RAY_ADDRESS)
and starts a local Ray instance when there is none. Protocol as in examples/evaluator.py:
JSON-line requests on stdin, one JSON-line answer per candidate on stdout (any order), logs
on stderr (rnc keeps them in <out>/evaluator.log).

Each actor loads the model once (`load_model` of examples/evaluator.py) and then scores many
genomes (`accuracy`); replace those two with your own. An actor that dies (its process
killed, its node lost) is replaced and its candidate scored again on another; every
candidate is answered exactly once.
"""

import argparse
import json
import os
import queue
import sys
import threading

import ray

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluator  # examples/evaluator.py: load_model, accuracy

# Ship evaluator.py's functions to the workers by value: cluster nodes need not have it.
ray.cloudpickle.register_pickle_by_value(evaluator)


@ray.remote
class Scorer:
    def __init__(self):
        self.model = evaluator.load_model()

    def score(self, cid, genome):
        return cid, evaluator.accuracy(self.model, genome)


def log(msg):
    print(f"ray_evaluator: {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actors", type=int, default=2, help="scoring actors (default 2)")
    ap.add_argument("--gpus", type=float, default=0, help="GPUs per actor (default 0)")
    ap.add_argument("--cpus", type=float, default=1, help="CPUs per actor (default 1)")
    ap.add_argument("--address", default=None,
                    help="Ray cluster address (default: RAY_ADDRESS, a running cluster, or a "
                         "new local instance)")
    ap.add_argument("--retries", type=int, default=3,
                    help="times a candidate is re-run after its actor died (default 3)")
    args = ap.parse_args()

    if args.address is not None:
        ray.init(address=args.address)
    else:
        try:
            ray.init(address="auto")
        except ConnectionError:
            log("no running Ray cluster: starting a local instance")
            ray.init()
    log(f"Ray resources: {ray.cluster_resources()}")
    options = {"num_cpus": args.cpus, "num_gpus": args.gpus, "max_restarts": 0}

    def start():
        return Scorer.options(**options).remote()

    actors = [start() for _ in range(max(1, args.actors))]
    idle = list(actors)
    waiting = []  # requests not yet sent, oldest first
    in_flight = {}  # ref -> (actor, request)
    attempts = {}

    # stdin is read on a thread so answers go out while requests still arrive.
    lines = queue.Queue()

    def reader():
        for line in sys.stdin:
            if line.strip():
                lines.put(json.loads(line))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    stdin_open = True
    while stdin_open or waiting or in_flight:
        block = not in_flight and not waiting
        try:
            while True:
                item = lines.get(block=block, timeout=None if block else 0)
                block = False
                if item is None:
                    stdin_open = False
                    break
                waiting.append(item)
        except queue.Empty:
            pass
        while waiting and idle:
            actor = idle.pop(0)
            req = waiting.pop(0)
            in_flight[actor.score.remote(req["id"], req["genome"])] = (actor, req)
        if not in_flight:
            continue
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.05)
        for ref in ready:
            actor, req = in_flight.pop(ref)
            try:
                cid, acc = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                attempts[req["id"]] = attempts.get(req["id"], 0) + 1
                if attempts[req["id"]] > args.retries:
                    log(f"candidate {req['id']}: actor died {attempts[req['id']]} times: {e}")
                    sys.exit(1)
                log(f"candidate {req['id']}: actor died, retrying on a new one")
                idle.append(start())
                waiting.insert(0, req)
                continue
            idle.append(actor)
            print(json.dumps({"id": cid, "accuracy": round(acc, 6)}), flush=True)
            log(f"candidate {cid}: accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
