"""PyTorch models through torch.onnx (Debian's python3-torch / python3-torchvision)."""

import sys

import pytest

import rnc

SHAPE_KEYS = ("kind", "in_channels", "out_channels", "kernel", "stride", "padding", "dilation",
              "groups", "input_hw", "output_hw", "box", "tiles")


def table(net):
    return [{k: x[k] for k in SHAPE_KEYS} for x in net.layers]


def test_squeezenet1_1_from_torch_is_the_zoo_model():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    m = tv.models.squeezenet1_1(num_classes=10)
    m.train()
    net = rnc.Network.from_torch(m, torch.zeros(1, 3, 64, 64))
    assert m.training, "from_torch must leave the module's mode as it was"
    zoo = rnc.Network.zoo("squeezenet1_1", input=64, classes=10)
    assert table(net) == table(zoo)
    assert net.edges == zoo.edges
    assert net.name == "SqueezeNet"


def torch_oracle(torch, module, x):
    """The layer table SPEC section 3 gives, from PyTorch's own modules and the shapes a
    forward pass sees (hooks, execution order): an oracle independent of the ONNX import."""
    rows = []

    def hook(m, inp, out):
        if isinstance(m, torch.nn.Conv2d):
            cin, cout, g = m.in_channels, m.out_channels, m.groups
            kh, kw = m.kernel_size
            hout, wout = out.shape[2], out.shape[3]
            if g == cin == cout and g > 1:
                box = {"rows": kh * kw, "cols": cout, "cycles": cout * hout * wout}
                tiles = -(-cout // 128)
            else:
                box = {"rows": kh * kw * cin // g, "cols": cout, "cycles": g * hout * wout}
                tiles = -(-box["rows"] // 128) * -(-cout // 128)
            rows.append({"kind": "conv", "in_channels": cin, "out_channels": cout,
                         "kernel": [kh, kw], "stride": list(m.stride), "groups": g,
                         "input_hw": list(inp[0].shape[2:]), "output_hw": [hout, wout],
                         "box": box, "tiles": tiles})
        elif isinstance(m, torch.nn.Linear):
            box = {"rows": m.in_features, "cols": m.out_features, "cycles": 1}
            rows.append({"kind": "linear", "in_channels": m.in_features,
                         "out_channels": m.out_features, "box": box,
                         "tiles": -(-m.in_features // 128) * -(-m.out_features // 128)})

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return rows


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "squeezenet1_1"])
def test_torchvision_models_match_their_modules(name, tmp_path, cli):
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    m = getattr(tv.models, name)(num_classes=10)
    x = torch.zeros(1, 3, 64, 64)
    net = rnc.Network.from_torch(m, x)
    expected = torch_oracle(torch, m, x)
    got = [{k: layer[k] for k in expected[i]} for i, layer in enumerate(net.layers)]
    assert len(net.layers) == len(expected)
    assert got == expected
    # The CLI reads the same export the same way.
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(m, x, str(path), opset_version=13)
    import json

    from conftest import run_cli

    out = json.loads(run_cli(cli, "inspect", "--onnx", path, "--json").stdout)
    assert [{k: v for k, v in a.items() if k != "name"} for a in out["layers"]] == [
        {k: v for k, v in a.items() if k != "name"} for a in net.layers]


def test_torchvision_mobilenet_v3_small_is_not_the_zoo_variant():
    """The zoo's mbv3-small is the reference's CIFAR-style variant (stride-1 first block,
    squeeze-excite and 1x1 shortcuts everywhere: 63 layers); torchvision's has 54."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    net = rnc.Network.from_torch(tv.models.mobilenet_v3_small(num_classes=10),
                                 torch.zeros(1, 3, 64, 64))
    assert len(net.layers) == 54
    assert len(rnc.Network.zoo("mbv3-small").layers) == 63
    # torchvision's first block: a stride-2 depthwise conv right after the stem.
    assert (net.layers[1]["groups"], net.layers[1]["stride"]) == (16, [2, 2])


def test_torch_missing_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="'torch'"):
        rnc.Network.from_torch(object(), None)
