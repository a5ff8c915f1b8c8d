"""The command-line contracts: output formats, files written, and bad input."""

import json

import numpy as np
import pytest

from firmware_py.model.network import Network, parse_activations
from firmware_py.ui.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_relax_prints_error_per_tick_and_exact_tick(capsys):
    code, out, _ = run(capsys, "relax", "--sizes", "3,5,4,2", "--seed", "3")
    assert code == 0
    lines = [ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert len(lines) == 8  # default 2L + 2 ticks
    assert "exact (difference 0.0) from tick 6 on (2L = 6)" in out


def test_relax_json_contract(capsys):
    code, out, _ = run(capsys, "relax", "--sizes", "4,8,8,3", "--json", "--ticks", "9",
                       "--init", "random")
    assert code == 0
    obj = json.loads(out)  # exactly one JSON object on stdout
    assert set(obj) == {"L", "dt", "ticks", "exact_from_tick"}
    assert obj["L"] == 3 and obj["dt"] == 1.0 and obj["exact_from_tick"] == 6
    assert [t["t"] for t in obj["ticks"]] == list(range(1, 10))
    assert all(t["max_abs_err"] > 0 for t in obj["ticks"][:5])
    assert all(t["max_abs_err"] == 0.0 for t in obj["ticks"][5:])


def test_relax_dt_below_one_is_never_exact(capsys):
    code, out, _ = run(capsys, "relax", "--dt", "1/4", "--json", "--ticks", "12")
    obj = json.loads(out)
    assert obj["dt"] == 0.25 and obj["exact_from_tick"] is None


def test_relax_net_file_out_and_plot(tmp_path, capsys):
    rng = np.random.default_rng(0)
    net = Network.random((2, 3, 1), ("tanh", "identity"), rng)
    net.x, net.y = rng.normal(size=(2, 2)), rng.normal(size=(2, 1))
    net.save(tmp_path / "n.npz")
    code, out, _ = run(capsys, "relax", "--net", str(tmp_path / "n.npz"), "--out",
                       str(tmp_path / "g.npz"), "--plot", str(tmp_path / "e.png"), "--json")
    assert code == 0 and json.loads(out)["exact_from_tick"] == 4
    from firmware_py.model.reference import backprop
    ref = backprop(net, net.x[0], net.y[0])
    with np.load(tmp_path / "g.npz") as g:
        assert sorted(g.files) == ["gW1", "gW2", "gb1", "gb2"]
        for i, (gW, gb) in enumerate(ref, 1):
            assert np.array_equal(g[f"gW{i}"], gW) and np.array_equal(g[f"gb{i}"], gb)
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_json_ends_with_one_object(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--backend", "fixed", "--dataset", "moons",
                         "--epochs", "3", "--json", "--plot", str(tmp_path / "c.png"))
    assert code == 0
    obj = json.loads(out.strip().splitlines()[-1])
    assert obj["backend"] == "fixed" and len(obj["history"]) == 3
    assert 0.5 < obj["test_accuracy"] <= 1.0
    assert set(obj["saturation"]) == {"h", "err", "lam", "grad", "weight"}
    assert "train moons" in err  # the progress bar
    assert (tmp_path / "c.png").exists()


def test_train_is_deterministic_for_a_seed(capsys):
    runs = [json.loads(run(capsys, "train", "--backend", "fixed", "--dataset", "xor",
                           "--epochs", "50", "--json", "--seed", "4")[1]) for _ in range(2)]
    assert runs[0]["history"] == runs[1]["history"]


def test_train_fixed_takes_the_formats_of_a_board(capsys):
    """--backend fixed with --config trains in that configuration's formats: the 8-bit
    operands of configs/nae3-ice40.json (3-2-1) learn not-all-equal, along another path
    than 16 bits; a network the board does not carry is refused (the iCEBreaker's default
    is digits)."""
    def train(*extra):
        code, out, _ = run(capsys, "train", "--backend", "fixed", "--dataset", "nae3",
                           "--seed", "2", "--json", *extra)
        assert code == 0
        return json.loads(out.strip().splitlines()[-1])
    narrow, wide = train("--config", "configs/nae3-ice40.json"), train()
    assert narrow["test_accuracy"] == 1.0
    assert narrow["history"] != wide["history"]
    # --board names the board, --config the configuration its bitstream carries
    both = train("--board", "icebreaker", "--config", "configs/nae3-ice40.json")
    assert both["history"] == narrow["history"]
    code, _, err = run(capsys, "train", "--backend", "fixed", "--dataset", "xor",
                       "--board", "icebreaker")
    assert code == 2 and "digits-lean-ice40.json is 64-32-10" in err


def test_train_xor_on_the_simulated_accelerator_by_default(capsys, tmp_path):
    """The sets loaded once, then each epoch on the device: TRAIN, EVALUATE twice and
    READ_COUNTERS, its cycles from the device's counters (the cycle model's)."""
    from firmware_py.contract.config import derived_config
    from firmware_py.contract.cycles import epoch_cycles, eval_cycles
    code, out, err = run(capsys, "train", "--dataset", "xor", "--json",
                         "--plot", str(tmp_path / "x.png"))
    obj = json.loads(out)
    assert code == 0 and obj["backend"] == "sim"
    assert obj["test_accuracy"] == 1.0 and obj["matches_fixed_golden"] is True
    assert (tmp_path / "x.png").exists()
    cfg = derived_config((2, 2, 1), parse_activations("hardtanh", 2), 4, 8)
    cycles = epoch_cycles(cfg, 4, 4) + 2 * eval_cycles(cfg, 4).cycles
    assert obj["link_bytes_load"] > 8 * cfg.record_bytes
    for row in obj["history"]:
        assert row["round_trips"] == 4 and row["device_cycles"] == cycles
        assert 0 < row["link_bytes"] < 200
    assert obj["device_cycles"] == len(obj["history"]) * cycles
    assert "predicted_board_seconds" not in obj         # no board was named


def test_a_board_run_predicts_its_wall_time(capsys):
    """With --board: the session's wall time at the board's clock and its bridge's rate,
    for the board's default configuration (``--config`` may name another it carries):
    digits on the iCEBreaker's lean-bram design, which has no trainer, so each batch is
    sent. Its epoch outlasts the design's 16-bit cycle counter, which the row's cycles
    must agree with modulo 2^16."""
    from boards import get_board
    from firmware_py.contract.config import DyadicConfig
    from firmware_py.contract.cycles import stream_cycles
    from firmware_py.device.framing import link_seconds
    from firmware_py.model.datasets import load_dataset
    ice = "configs/digits-lean-ice40.json"          # (the board's default)
    code, out, err = run(capsys, "train", "--dataset", "digits", "--board", "icebreaker",
                         "--backend", "sim", "--epochs", "1", "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["matches_fixed_golden"] is True and obj["sizes"] == [64, 32, 10]
    b, cfg = get_board("icebreaker"), DyadicConfig.load(ice)
    n, batch = len(load_dataset("digits").x_train), obj["batch"]
    model = sum(stream_cycles(cfg, min(batch, n - i)).cycles for i in range(0, n, batch))
    assert cfg.counter_bits == 16 and model >= 1 << 16 and obj["device_cycles"] == model
    want = link_seconds(obj["link_bytes"], obj["round_trips"], 3_000_000) + model / 24e6
    assert b.baud == 3_000_000 and b.clock_hz() == 24e6
    assert abs(obj["predicted_board_seconds"] - want) < 1e-4


def test_a_refusal_from_the_device_is_one_line(capsys):
    """A batch larger than the resident set: the device refuses it (BAD_BATCH) and the
    command line says so in one line, exit code 2."""
    code, out, err = run(capsys, "train", "--dataset", "xor", "--batch", "8")
    assert code == 2 and out == "" and "Traceback" not in err
    errors = [ln for ln in err.splitlines() if "error" in ln]     # (the rest: progress)
    assert errors == [err.splitlines()[-1]]
    assert "TRAIN failed: BAD_BATCH (the batch is empty, larger than the set" in errors[0]


@pytest.mark.parametrize("argv, message", [
    (["relax", "--sizes", "4,x,3"], "--sizes must be comma-separated integers"),
    (["relax", "--sizes", "4"], "needs at least an input and an output"),
    (["relax", "--activation", "swish"], "unknown activation 'swish'"),
    (["relax", "--dt", "2"], "--dt must be in (0, 1]"),
    (["relax", "--dt", "abc"], "expected a number"),
    (["relax", "--net", "/nonexistent.npz"], "no such file"),
    (["train", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["train", "--backend", "gpu"], "unknown backend 'gpu'"),
    (["train", "--backend", "serial"], "--backend serial needs --port"),
    (["train", "--port", "/dev/nonexistent-tty"], "cannot open /dev/nonexistent-tty"),
    (["train", "--activation", "swish"], "unknown activation 'swish'"),
    (["train", "--backend", "fixed", "--activation", "tanh"], "tanh has no fixed-point form"),
    (["train", "--backend", "fixed", "--lr", "0.3"], "2^-k"),
    (["train", "--sizes", "3,4,10"], "does not fit digits"),
    (["train", "--epochs", "0"], "expected a positive integer"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err and err.startswith("dyadic")


def test_bad_npz_contents_exit_2(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", W1=np.array([[np.nan]]), b1=np.zeros(1))
    code, _, err = run(capsys, "relax", "--net", str(tmp_path / "bad.npz"))
    assert code == 2 and "W1 contains NaN or inf" in err


def test_gradcheck_on_icarus_is_bit_exact_and_saves_gradients(capsys, tmp_path):
    code, out, err = run(capsys, "gradcheck", "--backend", "icarus", "--sizes", "3,4,2",
                         "--multipliers", "2", "--json", "--out", str(tmp_path / "g.npz"))
    assert code == 0, err
    obj = json.loads(out)
    assert set(obj) == {"bit_exact", "max_abs_err_vs_float", "ticks", "cycles"}
    assert obj["bit_exact"] is True and obj["ticks"] == 4
    assert 0 < obj["max_abs_err_vs_float"] < 0.01
    from firmware_py.contract.config import DyadicConfig
    from firmware_py.contract.cycles import relax_cycles
    cfg = DyadicConfig((3, 4, 2), ("relu", "identity"), multipliers=(2, 2))
    assert obj["cycles"] == relax_cycles(cfg, 4).cycles
    with np.load(tmp_path / "g.npz") as g:
        assert sorted(g.files) == ["gW1", "gW2", "gb1", "gb2"] and g["gW1"].shape == (4, 3)


def test_gradcheck_rejects_weights_outside_the_format(capsys, tmp_path):
    np.savez(tmp_path / "big.npz", W1=np.full((2, 2), 9.0), b1=np.zeros(2))
    code, _, err = run(capsys, "gradcheck", "--backend", "icarus", "--net",
                       str(tmp_path / "big.npz"))
    assert code == 2 and "W1 9 does not fit" in err and "--saturate" in err
    code, out, _ = run(capsys, "gradcheck", "--backend", "icarus", "--net",
                       str(tmp_path / "big.npz"), "--saturate", "--json")
    assert code == 0 and json.loads(out)["bit_exact"] is True


def test_gradcheck_on_verilator_takes_the_configuration_shape(capsys):
    # the same design as tests/test_cocotb.py's "tiny": one Verilator build serves both
    code, out, err = run(capsys, "gradcheck", "--backend", "verilator", "--config",
                         "configs/tiny.json", "--json")
    assert code == 0, err
    assert "gradcheck: 3-4-2 on verilator (multipliers (2, 3))" in err
    obj = json.loads(out)
    assert obj["bit_exact"] is True and obj["ticks"] == 4


def test_gradcheck_bad_backend_and_activation(capsys):
    assert run(capsys, "gradcheck", "--backend", "modelsim")[0] == 2
    code, _, err = run(capsys, "gradcheck", "--backend", "icarus", "--activation", "tanh")
    assert code == 2 and "no fixed-point form" in err


def test_gradcheck_and_infer_through_the_driver_on_sim(capsys, tmp_path):
    # configs/tiny.json: the simulated accelerator tests/test_link.py builds too
    code, out, err = run(capsys, "gradcheck", "--backend", "sim", "--config", "configs/tiny.json",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["bit_exact"] is True
    rng = np.random.default_rng(0)
    net = Network.random((3, 4, 2), parse_activations("leaky_relu:3", 2), rng)
    net.x, net.y = rng.uniform(-1, 1, (6, 3)), np.eye(2)[rng.integers(0, 2, 6)]
    net.save(tmp_path / "n.npz")
    code, out, err = run(capsys, "infer", "--net", str(tmp_path / "n.npz"), "--config",
                         "configs/tiny.json", "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["bit_exact"] is True and obj["samples"] == 6 and 0 <= obj["accuracy"] <= 1
    from firmware_py.model.arith import FixedArith
    from firmware_py.model.training import predict
    arith = FixedArith.for_network(net)
    np.testing.assert_array_equal(obj["outputs"], predict(arith, arith.params(net), net.x))


def test_a_command_the_device_cannot_run_is_refused_in_one_line(capsys, tmp_path):
    """The iCE40 digits surface has no host access to s and lam: infer and gradcheck,
    which relax and read s, stop before any device work with the reason."""
    cfg = "configs/digits-lean-ice40.json"
    rng = np.random.default_rng(0)
    net = Network.random((64, 32, 10), parse_activations("relu,identity", 2), rng)
    net.x, net.y = rng.uniform(0, 1, (2, 64)), np.eye(10)[[3, 7]]
    net.save(tmp_path / "n.npz")
    for argv in (("infer", "--net", str(tmp_path / "n.npz")), ("gradcheck",)):
        code, out, err = run(capsys, *argv, "--config", cfg, "--backend", "sim")
        assert code != 0 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "the device cannot run it" in lines[0] \
            and "no host access to s and lam" in lines[0], err
