"""rnc.compile against the CLI (same bytes), its result object, its errors, the GIL and Ctrl-C."""

import json
import os
import signal
import threading
import time

import pytest
from conftest import run_cli

import rnc

# The same mapping two ways: keyword arguments and the CLI's flags.
CASES = [
    ("zoo-squeezenet", ["--model", "squeezenet1_1"], lambda: rnc.Network.zoo("squeezenet1_1"),
     dict(crossbars=64, duplicate="auto", effort="fast"),
     ["--crossbars", 64, "--duplicate", "auto", "--effort", "fast"]),
    ("zoo-mbv3-chain", ["--model", "mbv3-small", "--input", 32],
     lambda: rnc.Network.zoo("mbv3-small", input=32),
     dict(crossbars=168, duplicate=True, depth_split=4, schedule="chain", layer_threshold=0,
          max_load=0, seed=3, samples=4, effort="fast"),
     ["--crossbars", 168, "--duplicate", "--depth-split", 4, "--schedule", "chain",
      "--layer-threshold", 0, "--max-load", 0, "--seed", 3, "--samples", 4, "--effort", "fast"]),
    ("onnx-mbv3-least", ["--onnx", "ONNX/mbv3-small_64.onnx.gz"],
     lambda: rnc.Network.from_onnx(ONNX_DIR / "mbv3-small_64.onnx.gz"),
     dict(find_solution=True, packer="maxrects"), ["--find-solution", "--packer", "maxrects"]),
    ("onnx-squeezenet-area", ["--onnx", "ONNX/squeezenet1_1_64.onnx.gz"],
     lambda: rnc.Network.from_onnx(ONNX_DIR / "squeezenet1_1_64.onnx.gz"),
     dict(crossbars=80, duplicate="area", depthwise="diagonal"),
     ["--crossbars", 80, "--duplicate", "area", "--depthwise", "diagonal"]),
]

ONNX_DIR = None


@pytest.fixture(autouse=True)
def _onnx_dir(onnx_dir):
    global ONNX_DIR
    ONNX_DIR = onnx_dir


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_files_as_the_cli(case, cli, onnx_dir, tmp_path):
    _, model_args, build, kwargs, flags = case
    model_args = [str(a).replace("ONNX", str(onnx_dir)) for a in model_args]
    cli_out = tmp_path / "cli"
    run_cli(cli, "compile", *model_args, *flags, "--out", cli_out)
    c = rnc.compile(build(), **kwargs)
    py_out = c.save(tmp_path / "py", plots=False)
    for name in ("summary.json", "pack.csv", "partition.json"):
        want = (cli_out / name).read_bytes()
        assert (tmp_path / "py" / name).read_bytes() == want, name
    assert c.summary_json().encode() == (cli_out / "summary.json").read_bytes()
    assert c.summary == json.loads((cli_out / "summary.json").read_text())
    assert py_out == str(tmp_path / "py")


def test_result_tables():
    net = rnc.Network.zoo("squeezenet1_1")
    c = rnc.compile(net, crossbars=64, duplicate="auto", effort="fast", samples=3)
    s = c.summary
    assert s["crossbars_budget"] == 64 and s["crossbars_used"] <= 64
    assert s["speedup"] > 1 and s["latency_ns"] >= s["ideal_latency_ns"]
    pack = c.pack
    assert len(pack) == s["tile_copies"]
    assert set(pack[0]) == {"tile", "layer", "copy", "crossbar", "x", "y", "w", "h"}
    assert {r["crossbar"] for r in pack} == set(range(s["crossbars_used"]))
    assert all(r["x"] + r["w"] <= 128 and r["y"] + r["h"] <= 128 for r in pack)
    # copies per layer as summary.json states them
    for layer, copies in enumerate(s["copies"]):
        assert max(r["copy"] for r in pack if r["layer"] == layer) + 1 == copies
    assert len(c.layers) == 26
    trace = c.trace()
    assert len(trace) == 26 * 3  # every layer once per sample
    assert max(r["end_ns"] for r in trace) == pytest.approx(s["latency_ns"])
    assert c.trace("csv").startswith(b"layer")
    json.loads(c.trace("chrome"))
    with pytest.raises(rnc.OptionsError):
        c.trace("xml")


def test_save_with_plots_and_html(tmp_path):
    c = rnc.compile(rnc.Network.zoo("squeezenet1_1"), crossbars=64)
    c.save(tmp_path, plots=True)
    names = set(os.listdir(tmp_path))
    assert {"summary.json", "pack.csv", "partition.json", "trace.csv"} <= names
    assert any(n.endswith(".svg") for n in names) and any(n.endswith(".png") for n in names)
    page = c.report_html()
    assert page.lstrip().lower().startswith("<!doctype html") and "squeezenet1_1" in page
    cell = c._repr_html_()
    assert "<svg" in cell and "speedup" in cell
    assert "squeezenet1_1" in repr(c)


def test_pack_to_pandas():
    pd = pytest.importorskip("pandas")
    c = rnc.compile(rnc.Network.zoo("squeezenet1_1"), crossbars=64)
    df = c.pack.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == c.summary["tile_copies"]


def test_bad_options_name_the_option():
    net = rnc.Network.zoo("squeezenet1_1")
    with pytest.raises(rnc.OptionsError) as e:
        rnc.compile(net, crossbars=64, no_such_option=1)
    assert e.value.option == "no_such_option" and isinstance(e.value, ValueError)
    with pytest.raises(rnc.OptionsError) as e:
        rnc.compile(net, crossbars=64, duplicate="sometimes")
    assert e.value.option == "duplicate"
    with pytest.raises(rnc.OptionsError) as e:
        rnc.compile(net, crossbars=64, same_layer_diagonal=True, layer_threshold=1)
    assert e.value.option in ("same_layer_diagonal", "layer_threshold")
    with pytest.raises(rnc.OptionsError):
        rnc.compile(net, crossbars=64, samples=0)
    with pytest.raises(rnc.OptionsError):
        rnc.compile(net, crossbars=64, input_bits=0)
    with pytest.raises(rnc.OptionsError):
        rnc.compile(net, crossbars=64, xbar=(64, 64))  # not the hardware's crossbar
    with pytest.raises(TypeError):
        rnc.compile("squeezenet1_1", crossbars=64)


def test_over_budget_does_not_fit():
    net = rnc.Network.zoo("squeezenet1_1")
    with pytest.raises(rnc.DoesNotFitError) as e:
        rnc.compile(net, crossbars=10)
    assert isinstance(e.value, ValueError)
    assert "10" in str(e.value)
    # squeezenet1_1's 80 tiles need 45 crossbars by area (SPEC section 14)
    assert e.value.least_crossbars == 45
    fits = rnc.compile(net, find_solution=True)
    assert fits.summary["crossbars_used"] >= 45


def test_save_into_a_file_is_an_os_error(tmp_path):
    c = rnc.compile(rnc.Network.zoo("squeezenet1_1"), crossbars=64)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(rnc.FileError) as e:
        c.save(blocker / "out")
    assert isinstance(e.value, OSError)


def test_hardware_reaches_the_compiler(cli, tmp_path):
    hw = rnc.Hardware(Xbar_Size=(256, 256), Subarray_Size=256)
    c = rnc.compile(rnc.Network.zoo("squeezenet1_1"), crossbars=30, hardware=hw, input_bits=4)
    out = run_cli(cli, "compile", "--model", "squeezenet1_1", "--crossbars", 30, "--set",
                  "Xbar_Size=256,256", "--set", "Subarray_Size=256", "--input-bits", 4,
                  "--json").stdout
    assert c.summary_json().strip() == out.decode().strip()
    assert c.summary["xbar"] == "256x256"


def test_progress_callback_sees_steps_and_can_cancel():
    net = rnc.Network.zoo("squeezenet1_1")
    steps = []
    rnc.compile(net, crossbars=64, progress=steps.append)
    assert steps and all(isinstance(s, str) and "effort" in s for s in steps)
    with pytest.raises(rnc.CancelledError):
        rnc.compile(net, crossbars=64, duplicate="auto", progress=lambda s: False)
    with pytest.raises(ZeroDivisionError):
        rnc.compile(net, crossbars=64, duplicate="auto", progress=lambda s: 1 / 0)


# A long mapping for the Ctrl-C test: mbv3-small on 168 crossbars with the defaults maps
# two layouts at default effort (about 5-15 s on 2 cores).
LONG = dict(crossbars=296)


def test_gil_is_released_while_compiling():
    net = rnc.Network.zoo("squeezenet1_1")
    done = threading.Event()
    box = {}

    def work():
        try:
            box["c"] = rnc.compile(net, crossbars=64, duplicate="auto")
        finally:
            done.set()

    t = threading.Thread(target=work)
    t.start()
    ticks = 0
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    assert "c" in box
    # With the GIL held for the whole run this loop could not have gone round.
    assert ticks > 20


def test_ctrl_c_stops_a_long_run_promptly():
    net = rnc.Network.zoo("mbv3-small")
    # Python's own Ctrl-C handler, whatever a module imported earlier in this process
    # installed (the test is about rnc answering it).
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            rnc.compile(net, **LONG)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    elapsed = time.monotonic() - t0
    # The signal comes at 1 s; the exception must follow within a fraction of a second, not
    # when the mapping ends.
    assert elapsed < 3, elapsed
