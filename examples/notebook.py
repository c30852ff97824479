# %% [markdown]
# # rnc from Python: a walk through, top to bottom
#
# Run it as a script (`python examples/notebook.py`) or cell by cell in Jupyter / VS Code
# (the `# %%` markers are cells). Needs `pip install ./python`; the PyTorch cell needs torch
# and torchvision and is skipped without them. Files go to a temporary folder.

# %%
import os
import tempfile

import rnc

work = tempfile.mkdtemp(prefix="rnc-notebook-")
print("rnc", rnc.__version__, "- outputs in", work)

# %% [markdown]
# ## A network and its crossbar boxes

# %%
net = rnc.Network.zoo("mbv3-small", input=64, classes=10)
print(net)
for layer in net.layers[:5]:
    box = layer["box"]
    print(f"{layer['name']:<32} {box['rows']:>5} x {box['cols']:<5} x {box['cycles']:>6}"
          f"  tiles {layer['tiles']}")
info = net.inspect()
print("tiles", info["tiles"], "area lower bound", info["area_lower_bound"], "crossbars")

# %% [markdown]
# ## The hardware model (MNSIM 2.0 SimConfig.ini; overrides as keyword arguments)

# %%
hw = rnc.Hardware()
print("tau(128x128, 8 bits) =", hw.activation(128, 128, 8)["latency_ns"], "ns")
big = rnc.Hardware(Xbar_Size=(256, 256), Subarray_Size=256)
print("on", big.xbar, "crossbars:", big.activation(256, 256, 8)["latency_ns"], "ns")

# %% [markdown]
# ## Compile onto 168 crossbars: duplicate, pack, simulate, compare with ISAAC-like

# %%
c = rnc.compile(net, crossbars=168, duplicate="auto", effort="fast")
s = c.summary
print(f"{s['crossbars_used']} of {s['crossbars_budget']} crossbars, "
      f"latency {s['latency_ns'] / 1e6:.2f} ms for {s['samples']} samples, "
      f"speed-up {s['speedup']:.1f}x over ISAAC-like ({s['baseline_crossbars']} crossbars)")
print("first tiles:", c.pack[:2])
out = c.save(os.path.join(work, "mbv3-168"), plots=True)
print("files:", sorted(os.listdir(out)))
with open(os.path.join(work, "mbv3-168", "report.html"), "w") as f:
    f.write(c.report_html())
# In Jupyter, a cell ending in `c` shows the summary and the crossbar occupancy picture.

# %% [markdown]
# ## Errors are Python exceptions

# %%
try:
    rnc.compile(net, crossbars=20)
except rnc.DoesNotFitError as e:
    print("does not fit:", e)
try:
    rnc.compile(net, crossbars=168, duplicate="sometimes")
except rnc.OptionsError as e:
    print("bad option", repr(e.option), "-", e)

# %% [markdown]
# ## Your own PyTorch model

# %%
try:
    import torch
    import torchvision
except ImportError:
    print("torch/torchvision not installed: skipping")
else:
    m = torchvision.models.squeezenet1_1(num_classes=10)
    tnet = rnc.Network.from_torch(m, torch.zeros(1, 3, 64, 64))
    print(tnet, "- the zoo's squeezenet1_1 has", len(rnc.Network.zoo("squeezenet1_1").layers))
    print("speed-up on 64 crossbars:",
          round(rnc.compile(tnet, crossbars=64, duplicate="auto").summary["speedup"], 2))

# %% [markdown]
# ## The search, driven from here (ask/tell)
#
# A tiny run (population 8, 3 generations) with a toy accuracy; put your training or
# evaluation code in `my_accuracy`. The files are those of `rnc search --out`.

# %%


def my_accuracy(genome):
    """Toy stand-in: more capacity, higher accuracy (see examples/evaluator.py)."""
    import math

    ks, e, d = genome["ks"], genome["e"], genome["d"]
    cap = sum(e[i] * ks[i] * ks[i] / 294 for i in range(16) if i % 4 < d[i // 4])
    return 0.70 + 0.22 * (1.0 - math.exp(-cap / 5.0))


s = rnc.Search(budget=168, population=8, generations=3, seed=1, out=os.path.join(work, "run"))
while not s.done:
    batch = s.ask()
    s.tell({c.id: my_accuracy(c.genome) for c in batch})
    print(f"generation {s.generation}: {len(batch)} new candidates, front {len(s.pareto)}")
best = s.pareto[0]
print(f"fastest on the front: {best['speedup']:.1f}x at accuracy {best['accuracy']:.3f}")
