"""The Markdown report and the README's headline table, from the results."""

from __future__ import annotations

import math

from .common import GPU_ANCHOR, HEADLINE_BOARDS, fmt_rate
from .targets import evaluate_targets


def _pct(v, digits=1):
    return "-" if v is None else f"{100 * v:.{digits}f} %"

def _x(v):
    return "-" if v is None else (f"{v:.1f}x" if v >= 0.1 else f"{v:.3f}x")

def _mults(r):
    """Multipliers the tiling uses, and the configured count when that is larger."""
    used = "+".join(map(str, r["multipliers"]))
    conf = r.get("multipliers_configured")
    return used if not conf or conf == r["multipliers"] else \
        f"{used} (of {'+'.join(map(str, conf))} configured)"

def _sizes(r):
    return "-".join(map(str, r["sizes"]))

def headline_table(results: dict) -> str:
    """The table for the README: every target and must-hold check, measured."""
    lines = ["| what | measured | target | |", "|---|---|---|---|"]
    for t in results.get("targets") or evaluate_targets(results):
        lines.append(f"| {t['target']} | {t['measured']} | {t['goal']} | {t['status']} |")
    thr = results.get("throughput", {})
    cpu = thr.get("pytorch_cpu", {})
    for b in thr.get("boards", []):
        if b["board"] not in HEADLINE_BOARDS:
            continue
        lines.append(f"| {b['title']} ({b['config']}), {b['clock_mhz']:g} MHz "
                     f"{b['clock_basis']}: training samples/s; batch-1 step | "
                     f"{fmt_rate(b['samples_per_s'])}; {b['online_step_us']:.2f} us | | |")
        if not b.get("comparable", True):
            lines.append(f"| ... not compared with PyTorch or the H200 anchor: "
                         f"{'-'.join(map(str, b['sizes']))} is not their 64-32-10 | | | |")
            continue
        lines.append(f"| ... against PyTorch on this CPU (batch 256 samples/s; batch-1 step) | "
                     f"{_x(b['vs_cpu_samples'])}; {_x(b['vs_cpu_latency'])} | | ratio |")
        lines.append(f"| ... against the H200 anchor (batch 256 samples/s; batch-1 step) | "
                     f"{_x(b['vs_gpu_samples'])}; {_x(b['vs_gpu_latency'])} | | ratio |")
    if cpu.get("status") == "measured":
        lines.append(f"| PyTorch {cpu['torch']} on this CPU ({cpu['cores']} cores): "
                     f"batch-256 samples/s; batch-1 step | "
                     f"{fmt_rate(cpu['batch256_samples_per_s'])}; "
                     f"{cpu['batch1_step_us']:.1f} us | | baseline |")
    elif cpu:
        lines.append(f"| PyTorch CPU baseline | {cpu.get('status')} | | baseline |")
    return "\n".join(lines)

def format_report(results: dict) -> str:
    """The whole Markdown report (headline table, then every section)."""
    meta = results.get("meta", {})
    out = ["# dyadic benchmark", ""]
    if meta:
        out.append(f"Run {meta.get('date')} on commit {meta.get('commit')}"
                   f"{' (quick)' if meta.get('quick') else ''}; {meta.get('machine')}; "
                   f"wall time {meta.get('wall_seconds', 0):.0f} s. Regenerate with "
                   f"`make bench` (or `make bench QUICK=1`).")
        for key, rerun in meta.items():     # sections measured again alone
            if key.endswith("_rerun"):
                out.append(f"Sections {', '.join(rerun.get('sections', []))} run again alone "
                           f"{rerun.get('date')}: {rerun.get('why')}.")
        out.append("")
    out += ["## Headline", "", headline_table(results), ""]
    out += ["## Targets", ""]
    for t in results.get("targets") or evaluate_targets(results):
        line = f"- target {t['target']}: {t['goal']}; measured {t['measured']} — {t['status']}"
        if t["why"]:
            line += f" ({t['why']})"
        out.append(line)
    out.append("")
    out += _exactness_md(results.get("exactness", {}))
    out += _cycles_md(results.get("cycles", []))
    out += _throughput_md(results.get("throughput", {}))
    out += _accuracy_md(results.get("accuracy", {}))
    out += _simulation_md(results.get("simulation", {}))
    out += _synthesis_md(results.get("synthesis", []))
    out += _end_to_end_md(results.get("end_to_end", {}))
    return "\n".join(out).rstrip() + "\n"

def _end_to_end_md(e2e):
    if not e2e or not e2e.get("link"):
        return []
    k = e2e["link"]
    out = ["## End to end", "",
           f"digits, {e2e['epochs']} epochs, batch {e2e['batch']}: {e2e['train_samples']} "
           f"training and {e2e['test_samples']} test samples, loaded once. Link traffic an "
           "epoch (bytes both ways; round trips):", "",
           "| path | load | an epoch | cycles an epoch (RTL = model) |", "|---|---|---|---|"]
    for name, m in (("resident (TRAIN, EVALUATE x2, READ_COUNTERS)", k["resident"]),
                    ("batch by batch through the resident memory", k["per_batch"])):
        out.append(f"| {name} | {m['load_bytes']:,}; {m['load_round_trips']} | "
                   f"{m['epoch_bytes']:,}; {m['epoch_round_trips']} | {m['epoch_cycles']:,} "
                   f"({'=' if m['epoch_cycles'] == m['epoch_cycles_model'] else '!='} "
                   f"{m['epoch_cycles_model']:,}) |")
    out.append(f"| before resident sets ({k['before']['commit']}: 32-bit words) | | "
               f"{k['before']['epoch_bytes']:,}; {k['before']['epoch_round_trips']} | |")
    out += ["", "Predicted wall time of the whole run on each board's default configuration "
            "(link at its bridge's rate, 1 ms a round trip, cycles at its clock):", "",
            "| board | configuration | path | predicted | link | device | before |",
            "|---|---|---|---|---|---|---|"]
    for b in e2e["boards"]:
        if b.get("status") != "measured":
            out.append(f"| {b['title']} | {b['config']} | {b.get('status')} | | | | |")
            continue
        p = b["predicted"]
        out.append(f"| {b['title']} | {b['config']} ({'-'.join(map(str, b['sizes']))}) | "
                   f"{b['measured']['path']} | {p['seconds']:.2f} s | {p['link_seconds']:.2f} s "
                   f"| {p['device_seconds']:.3f} s | {b['before']['seconds'] / 60:.1f} min |")
    cpu, f64 = e2e.get("pytorch_cpu", {}), e2e.get("float64", {})
    if cpu.get("status") == "measured":
        out.append(f"| PyTorch {cpu['torch']} on this CPU | 64-32-10, float32 | | "
                   f"{cpu['seconds']:.2f} s | | | |")
    if f64:
        out.append(f"| float64 golden model on this CPU | 64-32-10 | | {f64['seconds']:.2f} s "
                   "| | | |")
    demo = e2e.get("demo")
    if demo:
        before = demo.get("before", {})
        out += ["", f"`make demo`: {demo['after_seconds']:.0f} s now"
                + (f", {before['seconds']:.0f} s before ({before['commit']}, "
                   f"{before['note']})" if before else "") + "."]
    return out + [""]

def _exactness_md(ex):
    out = ["## 1. Exactness", ""]
    rel = ex.get("relaxation_float64")
    if rel:
        out.append(f"- float64 relaxation, dt = 1, {rel['networks']} random networks (depth "
                   f"{min(rel['depths'])}-{max(rel['depths'])}, widths 1-{rel['max_width']}, "
                   f"{', '.join(rel['activations'])}; zero and random initial state): the "
                   f"read-out is bit-identical to backprop at tick 2L and after (checked to "
                   f"2L + 2) for **{rel['exact_from_2L']}/{rel['networks']}**; first exact "
                   f"exactly at tick 2L for {rel['exact_exactly_at_2L']}"
                   + (f"; the other {rel['networks'] - rel['exact_exactly_at_2L']} "
                      f"({', '.join(rel.get('exact_before_2L_activations', []))}, where f' = 0 "
                      f"can hide the early error) already before." if rel['exact_exactly_at_2L']
                      < rel['networks'] else "."))
        fx = rel["fixed_point"]
        if fx["networks"]:
            out.append(f"- fixed point (Q4.12, hardware activations; {fx['networks']} of the "
                       f"networks, {fx['saturated']} saturated and left out): gradient after "
                       f"2L ticks against float64 backprop of the same float network: largest "
                       f"error {fx['max_err_vs_float64']:.2e}, median "
                       f"{fx['median_err_vs_float64']:.2e}, 95th percentile "
                       f"{fx['p95_err_vs_float64']:.2e}, above 1e-2 in "
                       f"{fx['networks_err_above_1e-2']} networks (largest gradient magnitude "
                       f"{fx['max_grad_magnitude']:.2f}). Against the dequantized network "
                       f"(rounding only): largest {fx['max_err_vs_dequantized']:.2e}, within "
                       f"the derived bound for {fx['within_derived_bound']}/"
                       f"{fx['networks'] - fx['saturated']} (largest bound "
                       f"{fx['max_bound']:.2e})."
                       + _worst_note(fx))
    rv = ex.get("rtl_vs_fixed")
    if rv and rv.get("values_compared"):
        out.append(f"- RTL against the fixed-point golden model: **{rv['share']:.4%}** of "
                   f"{rv['values_compared']:,} values equal:")
        for k, v in rv["by_check"].items():
            out.append(f"  - {k}: {v['matching']:,}/{v['compared']:,}")
    if ex.get("plot"):
        out.append(f"- plot: `{ex['plot']}` (error against tick, dt = 1, 1/2, 1/4, 1/8)")
    return out + [""]

def _worst_note(fx):
    w = fx.get("worst_network")
    if not w or w.get("nearest_kink") is None or fx.get("half_lsb_act") is None:
        return ""
    if w["nearest_kink"] <= fx["half_lsb_act"]:
        return (f" The largest error (network {w['net']}) has a pre-activation "
                f"{w['nearest_kink']:.1e} from an activation kink, within half an LSB "
                f"({fx['half_lsb_act']:.1e}) of it, so the rounded f' differs from float64's; "
                "the bound allows for that.")
    return (f" The largest error (network {w['net']}): nearest pre-activation to a kink "
            f"{w['nearest_kink']:.1e}.")

def _cycles_md(rows):
    if not rows:
        return ["## 2. Cycles and utilization", "", "not run", ""]
    out = ["## 2. Cycles and utilization", "",
           "Every number is the RTL's own counter (Verilator) unless marked model; the RTL "
           "must equal the cycle model in every run.", "",
           "| config | multipliers | B | ticks (B + 2L) | cycles / batch (RTL; model) | "
           "steady cycles / tick (RTL; model; bound) | cycles / sample (batch; steady) | "
           "utilization (batch; steady) | batch-1 step, cycles | relax 2L + read-out, cycles "
           "| RTL = model |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        st = r["cycles_per_tick_steady"]
        stm = r["cycles_per_tick_steady_model"]
        out.append(
            f"| {r['config']} {_sizes(r)} | {_mults(r)} | "
            f"{r['batch']} | {r['ticks_per_batch']} ({r['ticks_expected']}) | "
            f"{r['cycles_per_batch']}; {r['stream_batch']['model_cycles']} | "
            f"{'-' if st is None else f'{st:g}'}; {'-' if stm is None else f'{stm:g}'}; "
            f"{r['tick_bound']} | {r['cycles_per_sample_batch']:.1f}; "
            f"{'-' if st is None else f'{st:g}'} | {_pct(r['utilization_batch'])}; "
            f"{_pct(r['utilization_steady'])} | {r['online_step_cycles']} "
            f"({r['online_step_ticks']} ticks) | {r['relax_2L_cycles'] or '- (no RELAX)'} | "
            f"{'yes' if r['rtl_equals_model'] else 'NO'} |")
    out += ["", "Steady = marginal cost of one more sample, (cycles(B) - cycles(B/2)) / (B/2) "
            "from the RTL counters; bound = ceil(busiest cell's work per tick / its "
            "multipliers). The batch-1 step is a streaming batch of one with the SGD update "
            "(forward L ticks, adjoint L ticks, gradient read-out with the update fused).", ""]
    if any(r.get("plot") for r in rows):
        out += [f"Plot: `{rows[0]['plot']}`", ""]
    return out

def _throughput_md(thr):
    out = ["## 3. Throughput and latency", ""]
    cpu = thr.get("pytorch_cpu", {})
    if cpu.get("status") == "measured":
        out.append(f"PyTorch {cpu['torch']} on this machine's CPU ({cpu['cpu']}, "
                   f"{cpu['cores']} cores, shared; load average {cpu['load_average_before']} "
                   f"before): {'-'.join(map(str, cpu['sizes']))}, ReLU, {cpu['loss']}, SGD, "
                   f"float32, process nice {cpu.get('nice')}. Timed in blocks of steps after "
                   f"warm-up, with 1 thread and with all cores; the ratios use the fastest "
                   f"block of the faster thread count (the baseline's best case):")
        out.append("")
        out.append("| batch | threads | step, best block (median) | samples/s, best block "
                   "(median) |")
        out.append("|---|---|---|---|")
        for r in cpu["runs"]:
            out.append(f"| {r['batch']} | {r['threads']} | {r['step_us']:.1f} us "
                       f"({r['step_us_median']:.1f} us) | {fmt_rate(r['samples_per_s'])} "
                       f"({fmt_rate(r['samples_per_s_median'])}) |")
        out.append("")
        load = (cpu.get("load_average_before") or [0])[0]
        if load > 0.5 * (cpu.get("cores") or 1) or cpu.get("nice"):
            out += [f"Caveat: the CPU was shared (load average {load} on {cpu['cores']} cores) "
                    f"and the process ran at nice {cpu.get('nice')}, so an idle CPU would "
                    "likely be faster than this; the ratios against it favour the boards by "
                    "that much.", ""]
    else:
        out += [f"PyTorch CPU baseline: {cpu.get('status', 'not run')}; its ratios are left "
                "out.", ""]
    g = GPU_ANCHOR
    out += [f"GPU anchor ({g['source']}): {g['what']}: batch-1 step {g['batch1_step_us']} us, "
            f"{fmt_rate(g['batch256_samples_per_s'])} at batch 256.", ""]
    rows = thr.get("boards", [])
    if rows:
        out += ["| board (config) | clock | steady cycles / sample | samples/s (steady; at max "
                "batch incl. fill, drain, update) | batch-1 step | vs CPU (samples/s; "
                "latency) | vs H200 anchor (samples/s; latency) |",
                "|---|---|---|---|---|---|---|"]
        for b in rows:
            out.append(
                f"| {b['title']} ({b['config']}) | {b['clock_mhz']:g} MHz, {b['clock_basis']} | "
                f"{b['cycles_per_sample_steady']:g} | {fmt_rate(b['samples_per_s'])}; "
                f"{fmt_rate(b['samples_per_s_at_max_batch'])} (B = {b['batch']}) | "
                f"{b['online_step_cycles']} cycles = {b['online_step_us']:.2f} us | "
                f"{_x(b['vs_cpu_samples'])}; {_x(b['vs_cpu_latency'])} | "
                f"{_x(b['vs_gpu_samples'])}; {_x(b['vs_gpu_latency'])} |")
        for b in rows:
            if b["config_mismatch"]:
                out.append(f"\n- {b['board']}: {b['config_mismatch']}.")
        out += ["", "Ratios are the board over the baseline (above 1: the board is faster). "
                "These are core numbers with the samples already in on-chip memory; "
                f"{thr.get('link_note', '')}", ""]
    if thr.get("plot"):
        out += [f"Plot: `{thr['plot']}`", ""]
    return out

def _accuracy_md(acc):
    out = ["## 4. Accuracy", ""]
    if not acc.get("rtl"):
        return out + [acc.get("status", "not run"), ""]
    out += [f"digits {'-'.join(map(str, acc['sizes']))} ({acc['activation']}), {acc['epochs']} "
            f"epochs, batch {acc['batch']}, lr 2^{math.log2(acc['lr']):g}, seed {acc['seed']} "
            f"({acc['train_samples']} train / {acc['test_samples']} test samples); RTL: "
            f"{acc['rtl_config']} on {acc['rtl']['simulator']}.", "",
            "| model | test accuracy | train accuracy | wall time |", "|---|---|---|---|"]
    for k, label in (("float64", "float64"), ("fixed", "fixed point (Q4.12)"),
                     ("rtl", "RTL (Verilator)")):
        r = acc[k]
        out.append(f"| {label} | {_pct(r['test_accuracy'], 2)} | "
                   f"{_pct(r['train_accuracy'], 2)} | {r['seconds']} s |")
    out += ["", f"RTL equals fixed point (every epoch's metrics and the final weights, bit for "
            f"bit): {'yes' if acc['rtl_equals_fixed'] else 'NO'}. Fixed-point saturation "
            f"events: {acc['fixed']['saturation']}.", ""]
    if acc.get("plot"):
        out += [f"Plot: `{acc['plot']}`", ""]
    return out

def _simulation_md(sim):
    out = ["## 5. Simulation speed", ""]
    if not sim.get("simulators"):
        return out + [sim.get("status", "not run"), ""]
    out += [f"{sim['config']} {'-'.join(map(str, sim['sizes']))} "
            f"({'+'.join(map(str, sim['multipliers']))} multipliers), streaming batches "
            f"through cocotb; {sim['method']}.", "",
            "| simulator | streaming batches | cycles simulated | cycles / s | session with "
            "set-up only |", "|---|---|---|---|---|"]
    for s in sim["simulators"]:
        if s["status"] != "measured":
            out.append(f"| {s['simulator']} | {s['status']} | | | |")
            continue
        cps = s["cycles_per_s"]
        reps = f"{s.get('reps', '?')} x {s.get('batch', sim.get('batch', '?'))}"
        out.append(f"| {s['simulator']} | {reps} | {s['cycles']:,} | "
                   f"{'-' if cps is None else f'{cps:,.0f}'} | {s['setup_session_s']} s |")
    out.append("")
    if sim.get("verilator_over_icarus"):
        out.append(f"Verilator is {sim['verilator_over_icarus']:.1f}x faster than Icarus here.")
    if sim.get("training"):
        t = sim["training"]
        out.append(f"During the RTL training run (Verilator C++ server, the demo's path, link "
                   f"and host evaluation included): {t['core_cycles_per_s']:,.0f} core "
                   f"cycles/s, {t['simulated_samples_per_s']:.0f} training samples/s.")
    return out + [""]

def _synthesis_md(rows):
    out = ["## 6. Synthesis", "", "Collected from `build/boards/<board>/report.json` (or "
           "`failure.json`); `make bench` never runs synthesis.", "",
           "| board | status | config | Fmax (target) | resources | build time |",
           "|---|---|---|---|---|---|"]
    for s in rows:
        res = ", ".join(f"{k} {v['used']}/{v['available']}"
                        for k, v in (s.get("resources") or {}).items()
                        if isinstance(v, dict) and "used" in v)
        fmax = s.get("fmax_mhz")
        status = s["status"]
        if status == "not built":
            status = f"not built: `{s['build_command']}`" + (f" ({s['note']})"
                                                              if s.get("note") else "")
        elif status == "failed":
            status = f"failed: {s.get('reason', '').splitlines()[0] if s.get('reason') else ''}"
        if s.get("this_tree") is False:
            status += " (from another tree: rebuild)"
        secs = s.get("build_seconds")
        out.append(f"| {s['title']} | {status} | {s.get('config', s.get('default_config'))} | "
                   f"{'-' if fmax is None else f'{fmax:g} MHz'} ({s['target_mhz']:g} MHz) | "
                   f"{res or '-'} | {'-' if secs is None else f'{secs:.0f} s'} |")
    return out + [""]
