import gzip
import json

import pytest
from conftest import run_cli

import rnc

SHAPE_KEYS = ("kind", "in_channels", "out_channels", "kernel", "stride", "padding", "dilation",
              "groups", "input_hw", "output_hw", "box", "tiles")


@pytest.mark.parametrize("model,count,tiles", [("mbv3-small", 63, 210), ("squeezenet1_1", 26, 80),
                                               ("resnet18", 21, 698)])
def test_zoo_matches_spec_golden_counts(model, count, tiles):
    net = rnc.Network.zoo(model, input=64, classes=10)
    assert len(net.layers) == count
    assert sum(layer["tiles"] for layer in net.layers) == tiles
    assert net.input_hw == (64, 64)
    assert net.name == model


def test_layers_are_the_cli_inspect_json(cli):
    net = rnc.Network.zoo("mbv3-small", input=48, classes=7)
    out = json.loads(run_cli(cli, "inspect", "--model", "mbv3-small", "--input", 48,
                             "--classes", 7, "--json").stdout)
    assert net.layers == out["layers"]
    assert net.inspect() == out
    assert net.edges == [tuple(e) for e in out["edges"]]


def test_inspect_options_follow_the_cli(cli):
    net = rnc.Network.zoo("mbv3-small")
    mine = net.inspect(depth_split=5, depthwise="diagonal", xbar="64x64")
    out = json.loads(run_cli(cli, "inspect", "--model", "mbv3-small", "--depth-split", 5,
                             "--depthwise", "diagonal", "--xbar", "64x64", "--json").stdout)
    assert mine == out
    assert mine["tiles"] != net.inspect()["tiles"]


def test_first_squeezenet_layer_golden():
    first = rnc.Network.zoo("squeezenet1_1").layers[0]
    assert first["box"] == {"rows": 27, "cols": 64, "cycles": 961}
    assert first["output_hw"] == [31, 31]


def test_onnx_file_and_bytes_agree_with_the_zoo(onnx_dir):
    path = onnx_dir / "squeezenet1_1_64.onnx.gz"
    from_file = rnc.Network.from_onnx(path)
    from_bytes = rnc.Network.from_onnx(gzip.decompress(path.read_bytes()), name="sq")
    zoo = rnc.Network.zoo("squeezenet1_1")
    assert from_bytes.name == "sq"
    assert from_file.name == "squeezenet1_1_64"
    for a, b, z in zip(from_file.layers, from_bytes.layers, zoo.layers):
        assert a == b
        assert {k: a[k] for k in SHAPE_KEYS} == {k: z[k] for k in SHAPE_KEYS}
    assert from_file.edges == zoo.edges


def test_onnx_input_size(onnx_dir):
    net = rnc.Network.from_onnx(str(onnx_dir / "mbv3-small_64.onnx.gz"), input=32)
    zoo = rnc.Network.zoo("mbv3-small", input=32)
    assert [(x["input_hw"], x["box"]) for x in net.layers] == [
        (x["input_hw"], x["box"]) for x in zoo.layers]


def test_skip_unsupported(onnx_dir):
    path = onnx_dir / "gen" / "unsupported.onnx"
    with pytest.raises(rnc.NetworkError, match="skip-unsupported"):
        rnc.Network.from_onnx(path)
    net = rnc.Network.from_onnx(path, skip_unsupported=True)
    assert net.skipped and all(s.startswith("skipped node") for s in net.skipped)


def test_ofa_genome_matches_its_golden_table(repo):
    genome = json.loads((repo / "tests/fixtures/layers/ofa_mbv3_mid_64.json").read_text())
    a = rnc.Network.ofa(genome)
    b = rnc.Network.ofa(json.dumps(genome))
    onnx = rnc.Network.from_onnx(repo / "tests/fixtures/onnx/ofa_mbv3_mid_64.onnx.gz")
    assert a.layers == b.layers
    assert [{k: x[k] for k in SHAPE_KEYS} for x in a.layers] == [
        {k: x[k] for k in SHAPE_KEYS} for x in onnx.layers]


def test_network_errors_are_value_errors(tmp_path):
    with pytest.raises(rnc.NetworkError, match="unknown model 'nope'") as e:
        rnc.Network.zoo("nope")
    assert isinstance(e.value, ValueError) and isinstance(e.value, rnc.Error)
    with pytest.raises(rnc.NetworkError, match="genome"):
        rnc.Network.ofa({"ks": [3], "e": [3], "d": [2]})
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not onnx")
    with pytest.raises(rnc.NetworkError, match="bad.onnx"):
        rnc.Network.from_onnx(bad)
    with pytest.raises(rnc.NetworkError):
        rnc.Network.from_onnx(b"\x00\x01garbage")


def test_missing_file_is_an_os_error(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(rnc.FileError) as e:
        rnc.Network.from_onnx(missing)
    assert isinstance(e.value, OSError)
    assert e.value.filename == str(missing)
    assert "missing.onnx" in str(e.value)


def test_bad_arguments_name_the_option():
    with pytest.raises(rnc.OptionsError) as e:
        rnc.Network.zoo("mbv3-small", classes=0)
    assert e.value.option == "classes"
    with pytest.raises(rnc.OptionsError) as e:
        rnc.Network.zoo("mbv3-small").inspect(depthwise="sideways")
    assert e.value.option == "depthwise"
    with pytest.raises(rnc.OptionsError) as e:
        rnc.Network.zoo("mbv3-small").inspect(xbar="big")
    assert e.value.option == "xbar"


def test_table_to_pandas():
    pd = pytest.importorskip("pandas")
    df = rnc.Network.zoo("squeezenet1_1").layers.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 26


def test_repr():
    assert repr(rnc.Network.zoo("resnet18", input=32)) == (
        "<rnc.Network 'resnet18' at 32x32: 21 weight layers>")
