"""A large network end to end: torchvision's resnet18 (1000 classes) at 224x224, exported by
torch.onnx and compiled by the CLI with the default options at its ISAAC-like footprint.
The speed goals of the large networks (<= 30 s, <= 500 MB) are measured by
scripts/large-nets.sh, not here; this checks that such a network maps at all and that the
result is coherent."""

import json

import pytest
from conftest import run_cli


def isaac_tiles(torch, model):
    """Tiles at D = 1 from PyTorch's own modules (SPEC sections 3-4; no depthwise layers
    here): the ISAAC-like crossbar count, independent of rnc's ONNX import."""
    n, layers = 0, 0
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            kh, kw = m.kernel_size
            rows, cols = kh * kw * m.in_channels // m.groups, m.out_channels
        elif isinstance(m, torch.nn.Linear):
            rows, cols = m.in_features, m.out_features
        else:
            continue
        layers += 1
        n += -(-rows // 128) * -(-cols // 128)
    return layers, n


def test_resnet18_224_compiles_at_its_isaac_like_footprint(cli, tmp_path):
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    model = tv.models.resnet18(weights=None, num_classes=1000).eval()
    onnx = tmp_path / "resnet18.onnx"
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(onnx), opset_version=13)
    layers, tiles = isaac_tiles(torch, model)
    assert (layers, tiles) == (21, 727)

    shape = json.loads(run_cli(cli, "inspect", "--onnx", onnx, "--json").stdout)
    assert len(shape["layers"]) == layers
    assert shape["tiles"] == tiles

    s = json.loads(run_cli(cli, "compile", "--onnx", onnx, "--crossbars", tiles, "--json").stdout)
    # The defaults: physical rules, auto layout (one layout: no depthwise layers).
    assert (s["rules"], s["depth_split"], s["depthwise"]) == ("physical", 1, "serial")
    assert s["baseline_crossbars"] == tiles
    assert s["lower_bound"] <= s["crossbars_used"] <= tiles
    assert s["tile_copies"] > tiles, "the budget leaves room for copies"
    # Copies on every crossbar: faster than ISAAC-like, never below the proven bound.
    assert s["speedup"] > 1.5
    assert s["latency_ns"] >= s["latency_lower_bound_ns"] > 0
    assert s["optimality_gap"] >= 1.0
    assert 0.5 < s["contention_efficiency"] <= 1.0 + 1e-9
    assert s["latency_ns"] >= s["ideal_latency_ns"] * (1 - 1e-9)
