"""Each target next to its measured value: met, MISSED or NOT MEASURED, and why."""

from __future__ import annotations

from .common import GPU_ANCHOR, GPU_SIZES, fmt_rate

TARGETS = {
    "link_reduction": 100.0,        # at least, link bytes an epoch: before resident sets / now
    "ulx3s_run_seconds": 1.0,       # below, a 30-epoch digits run on the ULX3S-85F, load in
    "xor_step_cycles": 24,          # at most, XOR 2-2-1 batch-4 training step, 4 multipliers
    "utilization": 0.85,            # at least, each configuration at its largest batch
    "ulx3s_samples_per_s": 2e6,     # at least, ULX3S-85F digits training samples
    "ulx3s_vs_gpu_batch1": 10.0,    # at least, GPU anchor latency / ULX3S-85F latency
    "ulx3s_batch1_cycles": 120,     # at most, ULX3S-85F batch-1 step with the update
    "ulx3s_utilization": 0.90,      # at least, ULX3S-85F multipliers at its largest batch
    "ulx3s_fmax_mhz": 75.0,         # at least, timing met by nextpnr at that clock
    "ulx3s_accuracy": 0.97,         # at least, its network's golden digits test accuracy
    "icebreaker_fmax_mhz": 24.0,    # at least
}

def evaluate_targets(results: dict) -> list[dict]:
    """Each target next to its measured value: met / MISSED / NOT MEASURED, and why."""
    T = []
    cyc = {r["config"]: r for r in results.get("cycles", [])}
    thr = {r["board"]: r for r in results.get("throughput", {}).get("boards", [])}
    syn = {s["board"]: s for s in results.get("synthesis", [])}

    def add(name, target, measured, status, why=""):
        T.append({"target": name, "goal": target, "measured": measured, "status": status,
                  "why": why})

    e2e = results.get("end_to_end") or {}
    if e2e.get("link"):
        k = e2e["link"]
        r = k["reduction_vs_before"]
        add("digits link bytes an epoch after the one-time load, against the per-batch path "
            f"before resident sets ({k['before']['commit']})",
            f">= {TARGETS['link_reduction']:g}x fewer",
            f"{k['resident']['epoch_bytes']:,} against {k['before']['epoch_bytes']:,} "
            f"({r:,.0f}x fewer)", "met" if r >= TARGETS["link_reduction"] else "MISSED",
            f"batch by batch through the resident memory: {k['per_batch']['epoch_bytes']:,}")
        for b in e2e.get("boards", []):
            if b["board"] != "ulx3s-85f":
                continue
            if b.get("status") != "measured":
                add("ULX3S-85F 30-epoch digits run", "< 1 s", "-", "NOT MEASURED",
                    b.get("status", ""))
                continue
            p = b["predicted"]
            ok = p["seconds"] < TARGETS["ulx3s_run_seconds"] and b["measured"]["matches_golden"]
            status = "met" if ok else "MISSED"
            if ok and b.get("build") == "not built":
                status = "met at the target clock (unverified: not built)"
            elif ok and b.get("build") != "met":    # its bitstream does not run at that clock
                status = "MISSED"
            add(f"ULX3S-85F {e2e['epochs']}-epoch digits run ({b['config']}), load included, "
                f"predicted from one epoch on the RTL at {b['clock_mhz']:g} MHz and "
                f"{b['baud']:,} baud", f"< {TARGETS['ulx3s_run_seconds']:g} s",
                f"{p['seconds']:.2f} s (before: {b['before']['seconds'] / 60:.0f} min)", status,
                f"link {p['link_seconds']:.2f} s ({p['link_bytes']:,} bytes, "
                f"{p['round_trips']} round trips), device {p['device_seconds']:.3f} s; clock: "
                f"{b.get('clock_basis', 'unknown')}")
    x = cyc.get("xor")
    if x:
        n = x["cycles_per_batch"]
        ok = n <= TARGETS["xor_step_cycles"]
        ticks = x["model_tick_cycles"]
        add(f"XOR 2-2-1 training step (batch {x['batch']}, {x['multipliers_total']} "
            "multipliers, forward + adjoint + gradient + update)",
            f"<= {TARGETS['xor_step_cycles']} cycles", f"{n} cycles", "met" if ok else "MISSED",
            "" if ok else f"{x['ticks_per_batch']} ticks (B + 2L) of {ticks} cycles + 1 "
            f"prologue cycle = {n}")
    else:
        add("XOR 2-2-1 training step", f"<= {TARGETS['xor_step_cycles']} cycles", "-",
            "NOT MEASURED", "the XOR configuration was not run")
    for r in results.get("cycles", []):
        u = r["utilization_batch"]
        ok = u >= TARGETS["utilization"]
        why = ""
        if not ok:
            fill = 2 * r["L"]
            us = r.get("utilization_steady")
            why = (f"a batch of {r['batch']} runs {r['ticks_per_batch']} ticks, {fill} of them "
                   f"filling/draining the pipeline (2L); ")
            if us is not None:
                why += (f"the marginal (steady-tick) utilization is {us:.1%}: "
                        f"a steady tick takes {r['cycles_per_tick_steady']:g} cycles against "
                        f"ceil(busiest cell's work / its multipliers) = {r['tick_bound']}")
        add(f"multiplier utilization, {r['config']} "
            f"{'-'.join(map(str, r['sizes']))} ({'+'.join(map(str, r['multipliers']))} "
            f"multipliers), batch {r['batch']}",
            f">= {TARGETS['utilization']:.0%}", f"{u:.1%}", "met" if ok else "MISSED", why)
    u = thr.get("ulx3s-85f")
    if u:
        sps = u["samples_per_s"]
        ok = sps is not None and sps >= TARGETS["ulx3s_samples_per_s"]
        why = (f"{u['clock_mhz']:g} MHz / {u['cycles_per_sample_steady']:g} cycles per sample")
        if not ok:
            why += (f" = {fmt_rate(sps)}; 1 M/s needs Fmax >= "
                    f"{u['cycles_per_sample_steady']:.0f} MHz at this cycle count")
        status = _clock_status(ok, u)
        if u["config_mismatch"]:
            why += "; " + u["config_mismatch"]
        if _build_failed(u):
            why = f"no bitstream meets the clock (see synthesis); at that clock, {why}"
        limit = u.get("physical_limit_samples_per_s")
        if limit:
            why += (f"; physical limit {fmt_rate(limit)} ({u['multipliers_total']} multipliers x "
                    f"{u['clock_mhz']:g} MHz / MACs per sample), {sps / limit:.1%} of it")
        add("ULX3S-85F digits training samples per second",
            f">= {fmt_rate(TARGETS['ulx3s_samples_per_s'])}",
            f"{fmt_rate(sps)} ({u['clock_basis']}, {u['clock_mhz']:g} MHz)", status, why)
        n = u["online_step_cycles"]
        add("ULX3S-85F batch-1 training step (forward, adjoint, gradient, update)",
            f"<= {TARGETS['ulx3s_batch1_cycles']} cycles", f"{n} cycles",
            "met" if n <= TARGETS["ulx3s_batch1_cycles"] else "MISSED",
            f"{u['online_step_us']:.2f} us at {u['clock_mhz']:g} MHz")
        ub = u.get("batch_utilization")
        if ub is not None:
            add(f"ULX3S-85F multiplier utilization at batch {u['batch']}",
                f">= {TARGETS['ulx3s_utilization']:.0%}", f"{ub:.1%}",
                "met" if ub >= TARGETS["ulx3s_utilization"] else "MISSED",
                "RTL counters (equal to the cycle model)")
        r = u["vs_gpu_latency"]
        ok = r is not None and r >= TARGETS["ulx3s_vs_gpu_batch1"]
        lim = GPU_ANCHOR["batch1_step_us"] / TARGETS["ulx3s_vs_gpu_batch1"]
        why = (f"{u['online_step_cycles']} cycles at {u['clock_mhz']:g} MHz = "
               f"{u['online_step_us']:.2f} us against {GPU_ANCHOR['batch1_step_us']} us")
        if not ok:
            why += (f"; 10x needs <= {lim:.2f} us: <= {lim * u['clock_mhz']:.0f} cycles at this "
                    f"clock, or Fmax >= {u['online_step_cycles'] / lim:.0f} MHz")
        if _build_failed(u):
            why = f"no bitstream meets the clock (see synthesis); at that clock, {why}"
        goal = f">= {TARGETS['ulx3s_vs_gpu_batch1']:g}x faster ({lim:.2f} us)"
        if r is None:       # the anchor's network is another one
            add("ULX3S-85F batch-1 training step against the GPU anchor", goal,
                f"{u['online_step_us']:.2f} us ({u['clock_basis']})", "NOT COMPARABLE",
                f"the board carries {'-'.join(map(str, u['sizes']))}, the anchor ran "
                f"{'-'.join(map(str, GPU_SIZES))}; {why}")
        else:
            add("ULX3S-85F batch-1 training step against the GPU anchor", goal,
                f"{r:.1f}x ({u['online_step_us']:.2f} us, {u['clock_basis']})",
                _clock_status(ok, u), why)
    else:
        for name in ("ULX3S-85F digits training samples per second",
                     "ULX3S-85F batch-1 training step against the GPU anchor"):
            add(name, "-", "-", "NOT MEASURED", "the ULX3S-85F's default configuration was not run")
    s85 = syn.get("ulx3s-85f")
    if s85:
        f, goal = s85.get("fmax_mhz"), f">= {TARGETS['ulx3s_fmax_mhz']:g} MHz, timing met"
        ok = f is not None and f >= TARGETS["ulx3s_fmax_mhz"] and bool(s85.get("timing_met"))
        why = "" if ok else f"{s85['status']}: {s85.get('reason') or s85['build_command']}"
        if ok and s85.get("this_tree") is False:
            why = "built from another tree"
        add(f"ULX3S-85F Fmax (place and route, {s85.get('config', s85['default_config'])})",
            goal, f"{f:g} MHz" if f else "-", "met" if ok else "MISSED", why)
    a85 = (results.get("accuracy") or {}).get("boards", {}).get("ulx3s-85f")
    if a85:
        a = a85["test_accuracy"]
        add(f"ULX3S-85F network's digits test accuracy, golden model ({a85['config']} "
            f"{'-'.join(map(str, a85['sizes']))}, {a85['epochs']} epochs)",
            f">= {TARGETS['ulx3s_accuracy']:.0%}", f"{a:.2%}",
            "met" if a >= TARGETS["ulx3s_accuracy"] else "MISSED")
    ice = syn.get("icebreaker")
    goal = f">= {TARGETS['icebreaker_fmax_mhz']:g} MHz"
    if ice is None:
        add("iCEBreaker Fmax", goal, "-", "NOT MEASURED", "no iCEBreaker board defined")
    elif ice.get("fmax_mhz") is not None:
        f = ice["fmax_mhz"]
        ok = f >= TARGETS["icebreaker_fmax_mhz"]
        why = "" if ok else (f"achieved Fmax {f:g} MHz < {TARGETS['icebreaker_fmax_mhz']:g} "
                             f"MHz; critical clock: {ice.get('clocks')}")
        if ice["status"] == "failed":
            why = f"build failed: {ice.get('reason')}; " + why
        add("iCEBreaker Fmax (achieved, place and route)", goal, f"{f:g} MHz",
            "met" if ok and ice["status"] != "failed" else "MISSED", why)
    elif ice["status"] == "failed":
        add("iCEBreaker Fmax (achieved, place and route)", goal, "-", "MISSED",
            f"build failed: {ice.get('reason')}")
    else:
        add("iCEBreaker Fmax (achieved, place and route)", goal, "-", "NOT MEASURED",
            f"{ice['status']}: run `{ice['build_command']}` (10-40 min), then `make bench`")
    # must-hold checks
    ex = results.get("exactness", {})
    rel = ex.get("relaxation_float64")
    if rel:
        ok = rel["exact_from_2L"] == rel["networks"]
        add("float64 relaxation bit-identical to backprop from tick 2L", "all networks",
            f"{rel['exact_from_2L']}/{rel['networks']}", "met" if ok else "MISSED",
            "" if ok else f"not exact: networks {rel['not_exact'][:10]}")
    rv = ex.get("rtl_vs_fixed")
    if rv and rv.get("values_compared"):
        ok = rv["values_matching"] == rv["values_compared"]
        add("RTL values equal to the fixed-point golden model", "100 %",
            f"{rv['share']:.4%} of {rv['values_compared']:,}", "met" if ok else "MISSED",
            "" if ok else "mismatching checks: " + ", ".join(
                k for k, v in rv["by_check"].items() if v["matching"] != v["compared"]))
    if results.get("cycles"):
        ok = all(r["rtl_equals_model"] for r in results["cycles"])
        add("RTL cycle counters equal to the cycle model", "every run",
            "equal" if ok else "DIFFERENT", "met" if ok else "MISSED",
            "" if ok else ", ".join(r["config"] for r in results["cycles"]
                                    if not r["rtl_equals_model"]))
    acc = results.get("accuracy", {})
    if acc.get("rtl"):
        ok = acc["rtl_equals_fixed"]
        add(f"digits test accuracy after {acc['epochs']} epochs: RTL training equals fixed "
            "point (every epoch, final weights)", "RTL = fixed",
            f"float64 {acc['float64']['test_accuracy']:.2%}, fixed "
            f"{acc['fixed']['test_accuracy']:.2%}, RTL {acc['rtl']['test_accuracy']:.2%}",
            "met" if ok else "MISSED", "" if ok else "RTL training diverged from the golden model")
    return T

def _build_failed(thr_row) -> bool:
    return thr_row["build"] in ("failed", "not met")

def _clock_status(ok, thr_row):
    if not ok or _build_failed(thr_row):   # no bitstream: a target-clock figure meets nothing
        return "MISSED"
    if thr_row["config_mismatch"]:
        return "met (unverified: synthesized configuration differs)"
    return "met" if thr_row["build"] == "met" else "met at the target clock (unverified: not built)"
