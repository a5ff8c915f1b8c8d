"""Section 3, throughput: PyTorch on this CPU; each board at the clock its bitstream runs at."""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from firmware_py.contract.config import DyadicConfig

from .common import GPU_ANCHOR, GPU_SIZES, _loadavg, _log, ratio


def pytorch_cpu(sizes=GPU_SIZES, quick=False, log=_log) -> dict:
    """SGD steps of an MLP in PyTorch on this machine's CPU, batch 1 and batch 256.

    Same network (ReLU hidden, identity output), MSE loss, plain SGD, float32 (PyTorch's
    default). Each batch size is timed with 1 thread and with all cores, in blocks of
    steps after warm-up. The ratios use the fastest block of the faster thread count: on a
    shared machine that is the closest to an unloaded CPU, so the baseline gets its best
    case (the medians are recorded too).
    """
    try:
        import torch
    except ImportError:
        return {"status": "torch not installed (pip install torch==2.13.0)"}
    torch.manual_seed(0)
    threads_options = sorted({1, os.cpu_count() or 1})
    saved_threads = torch.get_num_threads()
    res = {"status": "measured", "torch": torch.__version__, "device": "cpu",
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "dtype": "float32", "loss": "MSE (1/2 sum of squares)", "optimizer": "SGD",
           "sizes": list(sizes), "load_average_before": _loadavg(), "nice": os.nice(0),
           "runs": []}
    blocks, per_block = (5, 100) if quick else (15, 200)
    for batch in (1, 256):
        for threads in threads_options:
            torch.set_num_threads(threads)
            layers = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(torch.nn.Linear(n_in, n_out))
                if i < len(sizes) - 2:
                    layers.append(torch.nn.ReLU())
            model = torch.nn.Sequential(*layers)
            opt = torch.optim.SGD(model.parameters(), lr=2.0 ** -7)
            x = torch.rand(batch, sizes[0])
            y = torch.nn.functional.one_hot(torch.randint(0, sizes[-1], (batch,)),
                                            sizes[-1]).float()

            def step(model=model, opt=opt, x=x, y=y):
                opt.zero_grad(set_to_none=True)
                loss = 0.5 * ((model(x) - y) ** 2).sum()
                loss.backward()
                opt.step()

            n = per_block if batch == 1 else max(10, per_block // 4)
            for _ in range(n):
                step()
            times = []
            for _ in range(blocks):
                t0 = time.perf_counter()
                for _ in range(n):
                    step()
                times.append((time.perf_counter() - t0) / n)
            med, best = float(np.median(times)), min(times)
            res["runs"].append({"batch": batch, "threads": threads, "step_us": best * 1e6,
                                "samples_per_s": batch / best, "step_us_median": med * 1e6,
                                "samples_per_s_median": batch / med, "blocks": blocks,
                                "steps_per_block": n})
            log(f"pytorch cpu batch {batch}, {threads} thread(s): best block {best * 1e6:.1f} "
                f"us/step ({batch / best:,.0f} samples/s), median {med * 1e6:.1f} us/step")
    torch.set_num_threads(saved_threads)
    b1 = min((r for r in res["runs"] if r["batch"] == 1), key=lambda r: r["step_us"])
    b256 = min((r for r in res["runs"] if r["batch"] == 256), key=lambda r: r["step_us"])
    res["batch1_step_us"], res["batch1_threads"] = b1["step_us"], b1["threads"]
    res["batch256_samples_per_s"] = b256["samples_per_s"]
    res["batch256_threads"] = b256["threads"]
    res["load_average_after"] = _loadavg()
    return res

def board_clock(synth: dict | None, board_clock_mhz: float, board: str = "") -> tuple:
    """(MHz, basis, build) for throughput: the clock the board's bitstream runs at (its PLL
    output, the build's target), with the achieved Fmax beside it; ``build`` is "met",
    "not met", "failed" or "not built"."""
    if synth and synth.get("fmax_mhz"):
        target, fmax = float(synth.get("target_mhz") or board_clock_mhz), synth["fmax_mhz"]
        if synth.get("timing_met"):
            return target, f"the bitstream's clock (Fmax {fmax:g} MHz)", "met"
        return target, f"timing NOT met (Fmax {fmax:g} MHz)", "not met"
    if synth and synth.get("status") == "failed":
        return float(board_clock_mhz), "its build failed", "failed"
    return (float(board_clock_mhz), f"not built: `make bitstream BOARD={board}`",
            "not built")

def throughput_rows(cycles_rows: list, synthesis: list, boards: dict, torch_res: dict,
                    board_cfg: dict) -> list:
    """Samples/s and batch-1 latency per board whose configuration was measured."""
    by_cfg = {r["config"]: r for r in cycles_rows}
    by_board = {s["board"]: s for s in synthesis}
    out = []
    for bname, cname in board_cfg.items():
        board = boards.get(bname)
        row = by_cfg.get(cname)
        if board is None or row is None:
            continue
        syn = by_board.get(bname)
        mhz, basis, build = board_clock(syn, board.clock_mhz, bname)
        hz = mhz * 1e6
        # a max_batch of 1 has no marginal sample: then the batch's cycles per sample
        steady = row["cycles_per_tick_steady"] or row["cycles_per_sample_batch"]
        sps = hz / steady
        sps_batch = hz * row["batch"] / row["cycles_per_batch"]
        lat_us = row["online_step_cycles"] / hz * 1e6
        cpu1 = torch_res.get("batch1_step_us")
        cpu256 = torch_res.get("batch256_samples_per_s")
        mismatch = None
        if syn and syn.get("config_id") and syn["config_id"] != row["config_id"]:
            mismatch = (f"the board was built with {syn.get('config')} (ID {syn['config_id']}, "
                        f"multipliers {syn.get('multipliers')}), not the benchmarked "
                        f"{row['path']} (ID {row['config_id']}, multipliers "
                        f"{row['multipliers']})")
        # the CPU and GPU figures are for one network: another network is not compared
        same_net = tuple(row["sizes"]) == tuple(torch_res.get("sizes") or GPU_SIZES)
        ratios = {
            "vs_cpu_samples": ratio(sps, cpu256),
            "vs_cpu_latency": ratio(cpu1, lat_us),
            "vs_gpu_samples": ratio(sps, GPU_ANCHOR["batch256_samples_per_s"]),
            "vs_gpu_latency": ratio(GPU_ANCHOR["batch1_step_us"], lat_us),
        }
        out.append({
            "board": bname, "title": board.title, "config": cname, "config_path": row["path"],
            "comparable": same_net, "sizes": list(row["sizes"]),
            "clock_mhz": mhz, "clock_basis": basis, "build": build,
            "fmax_mhz": (syn or {}).get("fmax_mhz"),
            "config_mismatch": mismatch,
            "cycles_per_sample_steady": steady, "samples_per_s": sps,
            # every multiplier busy every cycle: the most a clock and a tiling can give
            "multipliers_total": row["multipliers_total"],
            "physical_limit_samples_per_s": hz * row["multipliers_total"]
            / row["macs_per_sample"],
            "batch_utilization": row["utilization_batch"],
            "batch": row["batch"], "samples_per_s_at_max_batch": sps_batch,
            "online_step_cycles": row["online_step_cycles"], "online_step_us": lat_us,
            **(ratios if same_net else dict.fromkeys(ratios)),
        })
    return out

def _link_note(cfg: DyadicConfig, baud: int = 115200) -> str:
    """Why the samples live on the chip: what a UART could feed if every sample came over
    it as the host sent them before resident sets (32-bit words, an upper bound)."""
    words = cfg.sizes[0] + cfg.sizes[-1]
    rate = baud / 10 / (4 * words)   # 8N1: 10 bits per byte; 32-bit words; no framing
    return (f"fed over a {baud} baud UART as 32-bit words (the protocol before resident "
            f"sets), {words} words per {'-'.join(map(str, cfg.sizes))} sample would cap "
            f"training at {rate:.0f} samples/s before framing; the boards hold their samples "
            "on chip instead (the end-to-end section).")
