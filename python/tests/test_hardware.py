import json

import pytest
from conftest import run_cli

import rnc


def test_default_tau_matches_spec():
    hw = rnc.Hardware()
    assert hw.xbar == "128x128"
    assert hw.activation(128, 128, 8)["latency_ns"] == pytest.approx(152.77319048, abs=1e-8)
    assert hw.activation(128, 128, 9)["latency_ns"] == pytest.approx(171.36983929, abs=1e-8)


def test_activation_is_rnc_hw_json(cli, repo):
    cfg = repo / "tests/fixtures/mnsim_SimConfig.ini"
    hw = rnc.Hardware(cfg, Xbar_Size=(256, 256), Subarray_Size=256)
    out = json.loads(run_cli(cli, "hw", "--config", cfg, "--set", "Xbar_Size=256,256",
                             "--set", "Subarray_Size=256", "--rows", 200, "--cols", 100,
                             "--input-bits", 4, "--json").stdout)
    assert hw.xbar == "256x256"
    assert hw.activation(200, 100, 4) == out


def test_hardware_errors(tmp_path):
    with pytest.raises(rnc.FileError) as e:
        rnc.Hardware(tmp_path / "none.ini")
    assert isinstance(e.value, OSError)
    with pytest.raises(rnc.ConfigError) as e:
        rnc.Hardware(No_Such_Key=3)
    assert isinstance(e.value, ValueError)
    with pytest.raises(rnc.OptionsError):
        rnc.Hardware().activation(0, 128)
