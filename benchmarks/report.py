# ruff: noqa: E501
# (markdown table rows are long string literals)
"""Markdown tables from ``benchmarks/results/*.json`` (pasted into ``benchmarks/README.md``).

Usage::

    python benchmarks/report.py > /tmp/tables.md
"""

from __future__ import annotations

import json
import os


HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _load(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def e(x, digits=3):
    return "—" if x is None else f"{x:.{digits}g}"


def main():
    out = []
    cc = _load("compare_cleo.json")
    if cc:
        m = cc["machine"]
        out.append(
            f"Run: {m['date_utc']}, CPU **{m['cpu_model']}** ({m['cpus']} cores, AVX-512: {m['cpu_flags_avx512']}), "
            f"jax {m['jax']} / jaxlib {m['jaxlib']}, Brian2 {m.get('brian2', '—')}, cleosim {m.get('cleosim', '—')}, "
            f"Python {m['python']}. Cleo measured in the same run: **{cc['cleo_measured_same_run']}**. "
            f"Load at start: `{m['load_at_start']}`; at end: `{m.get('load_at_end', '')}`.\n"
        )
        if cc.get("kernel"):
            out.append("**GECI kernel** (dt = 0.1 ms, Poisson 5 Hz; jaxgeci reads every 333 steps):\n")
            out.append(
                "| N | steps | Cleo with GECI (s) | Cleo without (s) | Cleo GECI alone (s) | Cleo GECI neuron-steps/s | jaxgeci (s) | jaxgeci neuron-steps/s | **speed-up** | jaxgeci sharded over all cores: neuron-steps/s, **speed-up** | jaxgeci compile (s) | Cleo compile, with/without (s) | load |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for r in cc["kernel"]:
                cs = r.get("cleo_setup", {})
                comp = (
                    "/".join(e(cs[k]["warmup_10ms_incl_compile_s"]) for k in ("cleo_with", "cleo_without") if k in cs)
                    or "—"
                )
                out.append(
                    f"| {r['n_neurons']:.0e} | {r['n_steps']} | {e(r.get('cleo_with_s'))} | {e(r.get('cleo_without_s'))} | "
                    f"{e(r.get('cleo_geci_s'))} | {e(r.get('cleo_geci_neuron_steps_per_s'))} | {e(r['jaxgeci_s'])} | "
                    f"{e(r['jaxgeci_neuron_steps_per_s'])} | **{e(r.get('speedup'))}x** | "
                    + (
                        f"{r['jaxgeci_sharded_devices']} devices: {e(r['jaxgeci_sharded_neuron_steps_per_s'])}, **{e(r.get('speedup_sharded'))}x** | "
                        if "jaxgeci_sharded_s" in r
                        else "— | "
                    )
                    + f"{e(r['jaxgeci_compile_s'])} | {comp} | "
                    f"{r['load'].split('load average:')[-1].strip()} |"
                )
            out.append("")
        if cc.get("kernel") and "cleo_geci_profiled_s" in cc["kernel"][0]:
            out.append("GECI alone from Brian2's profiler (time in the GECI synapses' code objects, same runs):\n")
            out.append("| N | Cleo GECI, profiled (s) | Cleo GECI neuron-steps/s | jaxgeci (s) | **speed-up** |")
            out.append("|---|---|---|---|---|")
            for r in cc["kernel"]:
                out.append(
                    f"| {r['n_neurons']:.0e} | {e(r['cleo_geci_profiled_s'])} | {e(r['cleo_geci_profiled_neuron_steps_per_s'])} | "
                    f"{e(r['jaxgeci_s'])} | **{e(r['speedup_vs_profiled'])}x** |"
                )
            out.append("")
        if cc.get("imaging"):
            out.append("**Imaging experiment** (2 s at dt = 0.1 ms, 30 Hz, all neurons imaged, noise):\n")
            out.append(
                "| N | Cleo network+GECI+Scope+RecordOnlyProcessor (s) | Cleo neuron-steps/s | jaxgeci Poisson+SpikeTrains+Scope.image (s) | jaxgeci neuron-steps/s | **speed-up** | jaxgeci compile (s) | Cleo compile (s) | load |"
            )
            out.append("|---|---|---|---|---|---|---|---|---|")
            for r in cc["imaging"]:
                cs = r.get("cleo_setup", {})
                out.append(
                    f"| {r['n_neurons']:.0e} | {e(r.get('cleo_s'))} | {e(r.get('cleo_neuron_steps_per_s'))} | {e(r['jaxgeci_s'])} | "
                    f"{e(r['jaxgeci_neuron_steps_per_s'])} | **{e(r.get('speedup'))}x** | {e(r['jaxgeci_compile_s'])} | "
                    f"{e(cs.get('warmup_10ms_incl_compile_s'))} | {r['load'].split('load average:')[-1].strip()} |"
                )
            out.append("")
        if cc.get("accuracy"):
            r = cc["accuracy"][0]
            out.append(
                f"**Same accuracy** ({r['n_neurons']} neurons, 1 s, spikes 2-40 Hz on the 1 ms grid; reference: {r['reference']}, "
                f"peak ΔF/F {e(r['reference_peak_dFF'])}, reference vs dt = 4 µs: {e(r['reference_convergence_max_abs_vs_4us'])}):\n"
            )
            out.append("| run | max abs error of ΔF/F | rms error |")
            out.append("|---|---|---|")
            for label, key in (
                ("Cleo Euler 0.1 ms (float64)", "cleo_euler_0.1ms_float64"),
                ("Cleo Euler 0.1 ms (float32)", "cleo_euler_0.1ms_float32"),
            ):
                out.append(f"| {label} | {e(r[key]['max_abs'])} | {e(r[key]['rms'])} |")
            for prec in ("float64", "float32"):
                for dt, v in r[f"accurate_{prec}"].items():
                    out.append(f"| jaxgeci accurate {dt} ({prec}) | {e(v['max_abs'])} | {e(v['rms'])} |")
            out.append("")
            out.append(
                f"At equal or better accuracy (accurate, dt = {r['accurate_dt_at_equal_or_better_accuracy_s'] * 1e3:g} ms, float32, "
                f"N = {r['speed_n_neurons']}, 1 s read at ~30 Hz): jaxgeci {e(r['jaxgeci_accurate_s'])} s vs Cleo's GECI alone at 0.1 ms "
                f"{e(r.get('cleo_geci_euler_0.1ms_s_per_simulated_s'))} s: **{e(r.get('speedup_at_equal_or_better_accuracy'))}x** "
                f"(compile {e(r['jaxgeci_accurate_compile_s'])} s).\n"
            )
        if cc.get("fullrate"):
            out.append(
                "**Full-rate output** (ΔF/F recorded every step, 0.2 s; Cleo: GECI + StateMonitor(dFF) minus the bare network):\n"
            )
            out.append("| N | Cleo GECI+monitor (s) | jaxgeci (s) | jaxgeci neuron-steps/s | **speed-up** | load |")
            out.append("|---|---|---|---|---|---|")
            for r in cc["fullrate"]:
                out.append(
                    f"| {r['n_neurons']:.0e} | {e(r.get('cleo_geci_and_monitor_s'))} | {e(r['jaxgeci_s'])} | "
                    f"{e(r['jaxgeci_neuron_steps_per_s'])} | **{e(r.get('speedup'))}x** | {r['load'].split('load average:')[-1].strip()} |"
                )
            out.append("")
    rf = _load("roofline.json")
    if rf:
        a = rf["assumptions"]
        out.append(
            f"**Roofline** ({rf['lscpu'].get('Model name')}, {a['cores']} cores, {a['clock_hz'] / 1e9:.2f} GHz ({a['clock_source']}), "
            f"{a['fp32_simd_lanes']} fp32 lanes): one Euler step = {rf['ops_per_neuron_step']} per neuron -> "
            f"{rf['cycles_per_vector_of_neurons']} cycles per vector of {a['fp32_simd_lanes']} neurons -> compute roof "
            f"{e(rf['compute_roof_neuron_steps_per_s'])} neuron-steps/s ({e(rf['compute_roof_1core_neuron_steps_per_s'])} on one core). "
            f"Fitted loop overhead {e(rf['fit_loop_overhead_us_per_step'])} µs/step; large-N cost {e(rf['fit_ns_per_neuron_step_large_n'])} ns/neuron-step.\n"
        )
        out.append(
            "| N | steps | µs/step | neuron-steps/s | fraction of 2-core roof | fraction of 1-core roof | memory roof (neuron-steps/s) | load |"
        )
        out.append("|---|---|---|---|---|---|---|---|")
        for r in rf["measured"]:
            out.append(
                f"| {r['n_neurons']:.0e} | {r['n_steps']} | {e(r['us_per_step'])} | {e(r['neuron_steps_per_s'])} | "
                f"{e(r['fraction_of_compute_roof'], 2)} | {e(r['fraction_of_1core_compute_roof'], 2)} | "
                f"{e(r['memory_roof_neuron_steps_per_s'])} | {r['load'].split('load average:')[-1].strip()} |"
            )
        out.append("")
    gr = _load("gradients.json")
    if gr and gr.get("ratio"):
        out.append(
            "**Gradients** (value_and_grad of an MSE on 30 Hz ΔF/F w.r.t. every GECI constant, dt = 0.1 ms, 1 s):\n"
        )
        out.append("| N | forward (s) | value_and_grad (s) | **ratio** | constants | compile fwd / grad (s) | load |")
        out.append("|---|---|---|---|---|---|---|")
        for r in gr["ratio"]:
            out.append(
                f"| {r['n_neurons']:.0e} | {e(r['forward_s'])} | {e(r['value_and_grad_s'])} | **{e(r['ratio'])}x** | "
                f"{r['n_constants_differentiated']} | {e(r['forward_compile_s'])} / {e(r['value_and_grad_compile_s'])} | "
                f"{r['load'].split('load average:')[-1].strip()} |"
            )
        out.append("")
    for name in ("gradients_memory.json", "gradients.json"):
        gm = _load(name)
        if gm and isinstance(gm.get("memory"), dict) and "peak_rss_gib" in gm["memory"]:
            r = gm["memory"]
            out.append(
                f"**Long-run gradient memory**: {r['n_neurons']} neurons x {r['minutes']:g} min at dt = {r['dt_s'] * 1e3:g} ms "
                f"({r['n_steps']} steps, read every {r['sample_every']} steps), value_and_grad with checkpointing: "
                f"peak RSS **{r['peak_rss_gib']:.2f} GiB**, wall {e(r['wall_s_incl_compile'])} s incl. compile (load `{r['load']}`).\n"
            )
            break
    sw = _load("sweep.json")
    if sw:
        out.append(
            "**Parameter sweep** (`eqx.filter_vmap` over B GCaMP6f variants x N neurons; flat = one sensor of B x N neurons):\n"
        )
        out.append("| B | N | time (s) | neuron-steps/s | vs B=1 | flat layout neuron-steps/s | compile (s) | load |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in sw["rows"]:
            out.append(
                f"| {r['batch']} | {r['n_neurons']} | {e(r['time_s'])} | {e(r['neuron_steps_per_s'])} | {e(r['throughput_vs_first'], 2)} | "
                f"{e(r.get('flat_neuron_steps_per_s'))} | {e(r['compile_s'])} | {r['load'].split('load average:')[-1].strip()} |"
            )
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
