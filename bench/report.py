#!/usr/bin/python3
"""Render docs/performance.md from bench/results/*.json (one column group per environment).

Every section shows the stamp of the result file it comes from (bench/stamp.py); an
environment whose files carry different run ids is said to come from several runs, with
which section came from which.

    bench/report.py RESULTS-DIR OUTPUT.md
"""
import glob
import json
import os
import shutil
import subprocess
import sys

from stamp import describe

ENV_TEXT = {
    "helper-vm": "inside the machine-mode helper VM: QEMU TCG (software) with emulated AMD SVM on a "
                 "2-core kvm-pvm host; every guest exit is emulated, so only ratios within this "
                 "column mean anything",
    "native-kvm": "directly on the host's KVM",
}
SIDE = {"density": ".density.json", "clones": ".clones.json", "images": ".images.json",
        "lifecycle": ".lifecycle.json", "network": ".network.json", "sandbox": ".sandbox.json",
        "exec": ".exec.json", "functions": ".functions.json", "oci": ".oci.json"}
COUNTER_HEAD = {"exits": "exits", "io_exits": "I/O", "mmio_exits": "MMIO", "halt_exits": "HLT",
                "irq_exits": "ext. IRQ", "signal_exits": "signal", "insn_emulation": "emulated insn",
                "hypercalls": "hypercall", "irq_window_exits": "IRQ window",
                "request_irq_exits": "request IRQ", "pf_taken": "page faults (not exits)"}
PHASE_TEXT = {"kernel": "kernel: first KVM_RUN → HELLO", "ainit": "ainit: HELLO → EXEC",
              "resume": "resume: first KVM_RUN → EXEC", "app": "app: EXEC → EXIT",
              "to_app": "**launch → app's first instruction** (first KVM_RUN → EXEC)",
              "total": "first KVM_RUN → EXIT"}


def ms(d):
    if not d:
        return "not measured"
    return f"{d['median_ms']:.0f} ms (min {d['min_ms']:.0f}, max {d['max_ms']:.0f}, n={d['runs']})"


def kib(v):
    return f"{v / 1024:.2f} MiB" if v is not None else "-"


def kib_new(v):
    """A figure older result files lack (written before it was measured): an em dash."""
    return kib(v) if v is not None else "—"


def chart(png, script, data):
    """Render one PNG with gnuplot; returns the Markdown that shows it (or says why not)."""
    if not shutil.which("gnuplot"):
        return ["(chart not drawn: gnuplot is not installed; `scripts/setup.sh bench` installs it)", ""]
    r = subprocess.run(["gnuplot"], input=f"set terminal pngcairo size 760,380 font 'sans,10'\n"
                       f"set output '{png}'\n{script}\n" + data, text=True, capture_output=True)
    if r.returncode:
        return [f"(chart not drawn: gnuplot failed: {r.stderr.strip()})", ""]
    return [f"![{os.path.basename(png)}]({os.path.basename(png)})", ""]


def stamp_line(result):
    return [describe(result.get("stamp")), ""]


def provenance(env, sections):
    """Whether every section of an environment comes from one run; if not, which from which."""
    by_run = {}
    for name, res in sections.items():
        if res:
            st = res.get("stamp") or {}
            by_run.setdefault(st.get("run_id", "no stamp"), []).append(name)
    if len(by_run) == 1:
        rid = next(iter(by_run))
        if rid == "no stamp":
            return ["None of these result files carries a stamp, so whether they come from one "
                    "run is unknown.", ""]
        adhoc = " (started by hand, not by bench/run.sh)" if rid.startswith("adhoc-") else ""
        return [f"All sections below come from one run: `{rid}`{adhoc}.", ""]
    parts = [f"run `{rid}`: {', '.join(names)}" if rid != "no stamp"
             else f"no stamp (run unknown): {', '.join(names)}" for rid, names in by_run.items()]
    return [f"The sections below come from {len(by_run)} different runs — " + "; ".join(parts)
            + ". Compare figures only within a section.", ""]


# ---- boot ----------------------------------------------------------------------------------

def boot_table(r):
    """Boot to app with equal end events (the headline), and the conservative wall time."""
    b = r["boot"]
    a, q = b["launch_to_exit_record"]["arrowh"], b["launch_to_exit_record"]["qemu microvm"]
    out = ["### Boot to app: a static hello, from launch to ainit's EXIT record", ""] + stamp_line(r)
    out += ["Both VMMs are timed from the moment this benchmark launches them until ainit's EXIT "
            "record (the app has exited) reaches the VMM: the same end event. QEMU's "
            "`arrow.control` port is a unix socket the benchmark reads live; the clock stops as "
            "the EXIT record arrives, then QEMU is killed. arrowh's arrival time of the same "
            "record comes from `arrow run --timing` (CLOCK_MONOTONIC, the benchmark's clock). "
            "arrowh is launched as `arrow run` (CLI included), QEMU directly.", "",
            "| | arrowh (`arrow run`) | QEMU `-M microvm` | ratio |", "|---|---|---|---|",
            f"| **launch → EXIT record, median** | {ms(a)} | {ms(q)} | "
            f"**{b['ratio_of_medians']:.2f}×** |",
            f"| median of the {a['runs']} per-run ratios (each pair back to back) | | | "
            f"{b['pair_ratio_median']:.2f}× |"]
    for mark, text in (("hello", "launch → HELLO record (ainit runs)"),
                       ("exec", "launch → EXEC record (the app is exec'd)")):
        d = b.get(f"launch_to_{mark}_record")
        if d:
            out += [f"| {text} | {ms(d['arrowh'])} | {ms(d['qemu microvm'])} | "
                    f"{d['arrowh']['median_ms'] / d['qemu microvm']['median_ms']:.2f}× |"]
    g = r.get("guest_clock_at_ainit_ms", {})
    out += [f"| guest clock when ainit starts | {g.get('arrowh')} ms | {g.get('qemu microvm')} ms | |",
            f"| `arrow run` until it returns vs QEMU until the EXIT record (conservative for "
            f"arrowh: it also counts arrowh's exit after the record) | {ms(b['arrow_run_wall'])} | "
            f"{ms(q)} | {b['arrow_run_wall_vs_qemu_exit_record']:.2f}× |", ""]
    if b.get("arrowh_cli_start_to_exit_record"):
        out += [f"arrowh's own figure (`--timing`: from the `arrow` CLI's start, after its exec, "
                f"to the EXIT record): {ms(b['arrowh_cli_start_to_exit_record'])}.", ""]
    out += ["Both boot the same `vmlinux` (QEMU through its PVH entry, arrowh through the 64-bit boot",
            "protocol) with the same initramfs bytes (captured from `arrow run`), the same ainit and",
            "the same virtio-console ports. `arrow run` includes the CLI (program check, cached",
            "initramfs pieces) and exec of arrowh.", ""]
    return out


def boot_table_old(r):
    """A boot result from before equal end events (QEMU ran on through reboot)."""
    e2e = r["end_to_end"]
    a, q = e2e["arrow run"], e2e["qemu microvm"]
    return ["### Boot to app: a static hello, from launch to exit", ""] + stamp_line(r) + [
        "Old result format: QEMU was timed until its process ended (through ainit's sync, "
        "reboot and a guest reset), arrowh until `arrow run` returned: unequal end events.", "",
        "| | arrowh (`arrow run`) | QEMU `-M microvm` | ratio |", "|---|---|---|---|",
        f"| end-to-end, median | {ms(a)} | {ms(q)} | {a['median_ms'] / q['median_ms']:.2f}× |", ""]


def peers_table(r, docs):
    """Boot to app of every peer, in one table and one chart."""
    e2e = r["end_to_end"]
    rows = [("native exec (to process exit)", e2e.get("native exec"))]
    c = r.get("container", {})
    if c.get("runtime"):
        rows.append((f"{c['runtime']} run (OCI bundle, to process exit)", c))
    if "arrowh to EXIT record" in e2e:
        rows += [("arrowh (to EXIT record)", e2e["arrowh to EXIT record"]),
                 ("arrow run (to its return)", e2e["arrow run"]),
                 ("QEMU microvm (to EXIT record)", e2e["qemu microvm to EXIT record"])]
    else:
        rows += [("arrow run", e2e["arrow run"]), ("QEMU microvm", e2e["qemu microvm"])]
    rows = [(n, v) for n, v in rows if v]
    native = (e2e.get("native exec") or {}).get("median_ms")
    out = ["All peers, same static hello, same run (alternating, one warm-up each):", "",
           "| peer | median | spread (min-max, stdev) | runs | × native |", "|---|---|---|---|---|"]
    for name, v in rows:
        x = f"{v['median_ms'] / native:.0f}×" if native else "-"
        out += [f"| {name} | {v['median_ms']:.1f} ms | {v['min_ms']:.1f}-{v['max_ms']:.1f} ms, "
                f"σ {v['stdev_ms']:.1f} | {v['runs']} | {x} |"]
    if not c.get("runtime"):
        out += ["", f"No container peer in this run: {c.get('why', 'not measured')}."]
    elif "version" in c:
        out += ["", f"Container runtime: {c['version']}, default `{c['runtime']} spec` config "
                "(new PID, mount, network, IPC, UTS namespaces) with a read-only rootfs holding "
                "only the binary."]
    for note in r.get("notes", []):
        out += ["", f"Note: {note}"]
    out += replaced_runs(r.get("replaced_runs"), "boot")
    out += [""]
    data = "".join(f'"{n}" {v["median_ms"]}\n' for n, v in rows) + "e\n"
    out += chart(os.path.join(docs, f"perf-boot-{r['environment']}.png"),
                 "set style fill solid 0.6\nset boxwidth 0.6\nset logscale y\n"
                 "set ylabel 'ms to app exit (median, log scale)'\nset grid ytics\n"
                 "set xtics font 'sans,8'\n"
                 f"set title 'Boot to app, {r['environment']}'\nunset key\n"
                 "plot '-' using 0:2:xtic(1) with boxes, "
                 "'' using 0:2:(sprintf('%.0f ms', $2)) with labels offset 0,0.8", data + data)
    return out


def evidence_text(ev):
    """One run that failed or was replaced, with what was seen."""
    bits = [f"{ev.get('peer', '')} {ev.get('run', ev.get('instance', ''))}".strip() + ":",
            ev.get("seen", "failed") + "."]
    if "exit_status" in ev:
        bits.append(f"Exit status {ev['exit_status']}.")
    for key, what in (("arrowh_alive", "arrowh"), ("qemu_alive", "QEMU")):
        if key in ev:
            cpu = ev.get(f"{what.lower()}_cpu_s")
            bits.append(f"{what} {'still running' if ev[key] else 'gone'}"
                        + (f" ({cpu} s of CPU so far)" if cpu is not None else "") + ".")
    if ev.get("records_seen") is not None or ev.get("control_records") is not None:
        recs = ev.get("records_seen", ev.get("control_records"))
        bits.append(f"Control records that arrived: {', '.join(recs) if recs else 'none'}.")
    if isinstance(ev.get("state_after") or ev.get("state"), dict):
        st = ev.get("state_after") or ev.get("state")
        bits.append(f"State afterwards: {st.get('Status')}, exit code {st.get('ExitCode')}.")
    lines = ev.get("arrowh_log_tail") or ev.get("stderr_tail") or []
    lines = [ln for ln in lines if ln.strip()][-4:]
    if lines:
        bits.append("Last lines it printed: " + " / ".join(f"`{ln.strip()}`" for ln in lines))
    return " ".join(bits)


def replaced_runs(runs, what):
    if not runs:
        return []
    out = ["", f"{len(runs)} {what} run(s) failed and were run again (not timed); what was seen:", ""]
    return out + [f"- {evidence_text(ev)}" for ev in runs]


def exit_counts_section(r):
    ec = r.get("exit_counts")
    if not ec:
        return []
    counters = ec["counters"]
    peers = [("arrowh, cold boot", ec.get("arrowh cold")),
             ("arrowh, cold boot, ARROW_PREFAULT=0", ec.get("arrowh cold, no prefault")),
             ("arrowh, clone", ec.get("arrowh clone")), ("QEMU microvm", ec.get("qemu microvm"))]
    out = ["### VM exits: launch to the app's first instruction (KVM's own counters)", ""]
    out += stamp_line(r)
    out += ["The kernel's per-vCPU KVM statistics, the same counters for both VMMs: arrowh reads "
            "each vCPU's binary stats fd (`KVM_GET_STATS_FD`) before the first `KVM_RUN` and as "
            "ainit's HELLO, EXEC and EXIT records arrive, and prints them under `--timing`; QEMU "
            "gives them through QMP `query-stats` (target vcpu, provider kvm), read at the same "
            "three records. The app's first instruction follows the EXEC record (ainit sends it "
            "once the exec succeeded). A clone (`arrow run --from` a template, docs/snapshots.md) "
            "does not boot: it resumes inside ainit, which takes its identity and starts the app. "
            "QEMU's first phase also runs its firmware: microvm starts in qboot "
            "(bios-microvm.bin), which fetches the kernel and initramfs over fw_cfg and enters "
            "the kernel's PVH entry; arrowh puts both into guest memory before the first "
            "`KVM_RUN` and starts the vCPU at the kernel's 64-bit entry.", ""]
    head = "| | " + " | ".join(p for p, _ in peers) + " |"
    out += [head, "|---|" + "---|" * len(peers)]
    for phase, text in (("to_app", "exits, first KVM_RUN → EXEC"), ("total", "exits, first KVM_RUN → EXIT")):
        cells = []
        for _, d in peers:
            cells.append(median_cell(d, phase, "exits") if d and "phases" in d else "-")
        out.append(f"| {text} | " + " | ".join(cells) + " |")
    out.append("")
    for name, d in peers:
        if not d:
            continue
        if "unavailable" in d:
            out += [f"{name}: no exit counts — {d['unavailable']}.", ""]
            continue
        out += [f"{name}, medians of {d['runs']} runs ({d['source']}):", "",
                "| phase | " + " | ".join(COUNTER_HEAD.get(c, c) for c in counters) + " |",
                "|---|" + "---|" * len(counters)]
        for phase, row in d["phases"].items():
            cells = [median_cell(d, phase, c, spread=(c == "exits")) for c in counters]
            extra = (f" ({row['runs_missing_a_mark']} run(s) missing a mark)"
                     if row.get("runs_missing_a_mark") else "")
            out.append(f"| {PHASE_TEXT.get(phase, phase)}{extra} | " + " | ".join(cells) + " |")
        if d.get("note"):
            out += ["", f"Note: {d['note']}."]
        if d.get("runs_with_records_in_one_read"):
            out += ["", f"In {d['runs_with_records_in_one_read']} of these runs two records "
                    "arrived in one read, so QEMU was paused only after the second: the phase "
                    "boundary between them is late by what the guest did in between."]
        out.append("")
    for note in ec.get("arrowh_notes", []):
        out += [f"arrowh said: `{note}`", ""]
    out += ["Columns: every exit (the total), then by reason: port I/O, MMIO, HLT, external "
            "interrupt, pending signal, instructions KVM emulated, hypercalls, interrupt-window "
            "and request-IRQ exits (KVM's `exits`, `io_exits`, `mmio_exits`, `halt_exits`, "
            "`irq_exits`, `signal_exits`, `insn_emulation`, `hypercalls`, `irq_window_exits`, "
            "`request_irq_exits`). The reasons overlap (an emulated instruction is often an "
            "MMIO exit too) and do not add up to the total. The last column is not an exit "
            "reason: page faults KVM's MMU handled (`pf_taken`), with nested paging mostly guest "
            "memory touched for the first time, each one an exit of its own. Exits triggered by "
            "interrupts and timers depend on elapsed time, so they vary with the speed of the "
            "run; I/O and MMIO exits hardly do.", ""]
    pf = r.get("prefault")
    if pf:
        lt = pf["launch_to_exit_record"]
        out += ["**Stage-2 prefault.** Before the first `KVM_RUN` arrowh maps into KVM's nested "
                "page tables every guest page the host already holds — the kernel, the initramfs "
                "and the boot structures it wrote (`mincore`, then `KVM_PRE_FAULT_MEMORY`, Linux "
                "6.10) — so the guest's first touch of each is no exit. The same cold boot with "
                "it turned off (`ARROW_PREFAULT=0`), alternating in the same rounds: launch → "
                f"EXIT record {ms(lt['prefault'])} with it, {ms(lt['ARROW_PREFAULT=0'])} "
                f"without: **{pf['ratio_of_medians']:.2f}×** (ratio of medians; median of "
                f"per-pair ratios {pf['pair_ratio_median']:.2f}×); pages mapped, median: "
                f"{pf['pages_mapped_median']} resident, then the kernel file's "
                f"{pf.get('kernel_file_pages_mapped_median')} (these may overlap)."
                + (f" Not mapped in some runs: {'; '.join(pf['not_mapped'])}."
                   if pf.get("not_mapped") else ""), ""]
    ct = ec.get("clone_times")
    if ct and ct.get("launch_to_exit_record"):
        out += [f"The clones counted here took {ms(ct['launch_to_exit_record'])} from launch to "
                f"the EXIT record ({ms(ct['arrow_run_wall'])} until `arrow run` returned); "
                "bench/clones.py below compares clones and cold boots properly.", ""]
    return out


def median_cell(d, phase, counter, spread=True):
    v = (d.get("phases", {}).get(phase) or {}).get(counter)
    if not v:
        return "-"
    med = f"{v['median']:g}"
    if spread and v["min"] != v["max"]:
        med += f" ({v['min']}–{v['max']})"
    return med


def memory_section(r):
    mem = r.get("memory", {})
    ah, qm = mem.get("arrowh", {}), mem.get("qemu", {})
    out = ["### Memory of one idle Arrow (from /proc/PID/smaps)", ""] + stamp_line(r)
    if "vmm_pss_kib" not in ah:
        out += ["This result holds only RSS (written before PSS was measured); RSS counts shared "
                "libraries whole, so it is not compared here.", "",
                "| context only | arrowh | QEMU microvm |", "|---|---|---|",
                f"| RSS excluding guest RAM | {kib(ah.get('vmm_rss_kib'))} | {kib(qm.get('vmm_rss_kib'))} |",
                ""]
    else:
        out += ["Per mapping of /proc/PID/smaps: PSS (each shared page divided between the "
                "processes that map it) and private memory (Private_Clean + Private_Dirty), summed "
                "over every mapping except guest RAM (for the VMM's own cost) and over guest RAM "
                "alone. arrowh is all of its processes: a root-started arrowh is a supervisor and "
                "a jailed VMM child (docs/security.md), both counted; the supervisor's share is "
                "shown apart (— where the result predates the jail: one process, nothing apart).",
                "",
                "| | arrowh | QEMU microvm |", "|---|---|---|",
                f"| VMM PSS, excluding guest RAM | {kib(ah.get('vmm_pss_kib'))} | "
                f"{kib(qm.get('vmm_pss_kib'))} |",
                f"| of which arrowh's supervisor (the sandbox) | "
                f"{kib_new(ah.get('supervisor_pss_kib'))} | |",
                f"| VMM private memory, excluding guest RAM | {kib(ah.get('vmm_private_kib'))} | "
                f"{kib(qm.get('vmm_private_kib'))} |",
                f"| of which arrowh's supervisor | {kib_new(ah.get('supervisor_private_kib'))} | |",
                f"| guest RAM touched (PSS) | {kib(ah.get('guest_ram_pss_kib'))} | "
                f"{kib(qm.get('guest_ram_pss_kib'))} |",
                f"| total PSS | {kib(ah.get('pss_kib'))} | {kib(qm.get('pss_kib'))} |",
                f"| context only, not compared: RSS excluding guest RAM (counts shared libraries "
                f"whole) | {kib(ah.get('vmm_rss_kib'))} | {kib(qm.get('vmm_rss_kib'))} |", ""]
    bs = r.get("binary_sizes")
    if bs:
        out += [f"Sizes: arrowh {bs['arrowh'] / 1024:.0f} KiB (static), vmlinux "
                f"{bs['vmlinux'] / 1048576:.1f} MiB, hello initramfs "
                f"{bs['initramfs_hello'] / 1024:.0f} KiB.", ""]
    return out


# ---- the other sections ---------------------------------------------------------------------

def replaced_instances(name, v):
    runs = v.get("replaced_runs")
    n = v.get("replaced_never_ready", 0)
    if runs:
        return [f"{len(runs)} {name} instance(s) never printed \"ready\" and were replaced; "
                "the time spent on them is left out of the start rate. What was seen:", ""] + \
               [f"- {evidence_text(ev)}" for ev in runs] + [""]
    if n:
        return [f"{n} {name} instance(s) never printed \"ready\" within 120 s and were replaced; "
                "the time spent on them is left out of the start rate. This result file kept no "
                "evidence of why (it predates that), so the cause is not known.", ""]
    return []


def density_section(d, docs):
    if not d:
        return []
    a, q = d["arrowh"], d["qemu microvm"]
    out = ["### Many idle Arrows (bench/density.py)", ""] + stamp_line(d) + [
           f"Idle instances of the same program (prints \"ready\", then waits), guest memory "
           f"{d['guest_memory_mib']} MiB each; host PSS from /proc/PID/smaps_rollup summed over "
           "all instances (PSS splits each shared page between the processes that map it; guest "
           "RAM the guest touched is included). An Arrow is both processes of its arrowh, the "
           "supervisor and the jailed VMM; the supervisor's share is also shown apart (— where "
           "the result predates that).", "",
           "| instances | arrowh PSS per instance | private | of which supervisor: PSS | private "
           "| QEMU PSS per instance | private |",
           "|---|---|---|---|---|---|---|"]
    for ra, rq in zip(a["by_count"], q["by_count"]):
        out += [f"| {ra['instances']} | {kib(ra['pss_kib_per_instance'])} | "
                f"{kib(ra['private_kib_per_instance'])} | "
                f"{kib_new(ra.get('supervisor_pss_kib_per_instance'))} | "
                f"{kib_new(ra.get('supervisor_private_kib_per_instance'))} | "
                f"{kib(rq['pss_kib_per_instance'])} | {kib(rq['private_kib_per_instance'])} |"]
    out += ["", "| | arrowh | QEMU microvm |", "|---|---|---|",
            f"| started one after another (each once the previous one was ready), all {a['start']['instances']} | "
            f"{a['start']['seconds_to_all_ready']} s ({a['start']['per_second']}/s) | "
            f"{q['start']['seconds_to_all_ready']} s ({q['start']['per_second']}/s) |",
            f"| idle instances in {d['budget_mib']} MiB at the PSS per instance of the largest fleet "
            f"(computed) | {a['fit_in_budget']} | {q['fit_in_budget']} |", ""]
    out += replaced_instances("Arrow", a) + replaced_instances("QEMU", q)
    data = "".join(f"{ra['instances']} {ra['pss_kib_per_instance'] / 1024:.2f} "
                   f"{rq['pss_kib_per_instance'] / 1024:.2f}\n"
                   for ra, rq in zip(a["by_count"], q["by_count"])) + "e\n"
    out += chart(os.path.join(docs, f"perf-pss-{d['environment']}.png"),
                 "set xlabel 'idle instances'\nset ylabel 'PSS per instance (MiB)'\n"
                 "set logscale x\nset grid\nset yrange [0:*]\nset key top right\n"
                 f"set title 'Host memory per idle instance, {d['environment']}'\n"
                 "plot '-' using 1:2 with linespoints title 'arrowh', "
                 "'' using 1:3 with linespoints title 'QEMU microvm'", data + data)
    return out


def clones_section(c):
    if not c:
        return []
    st, mem = c["start"], c["memory"]
    cold, clone = st["cold boot"], st["clone"]
    t = c["template"]
    out = ["### Clones of a template (bench/clones.py)", ""] + stamp_line(c) + [
           "The same static hello, cold-booted (`arrow run --network none hello`) and as a clone "
           "of a template made from that command (`arrow run --from`; docs/snapshots.md), "
           f"alternating, {cold['runs']} pairs after a warm-up pair; from launch until "
           "`arrow run` returns after the app exited. Compare within this section (its cold "
           "boots are its baseline).", "",
           "| start to app exit | median | min | max | σ |", "|---|---|---|---|---|",
           f"| cold boot | {cold['median_ms']} ms | {cold['min_ms']} ms | {cold['max_ms']} ms | "
           f"{cold['stdev_ms']} ms |",
           f"| clone | {clone['median_ms']} ms | {clone['min_ms']} ms | {clone['max_ms']} ms | "
           f"{clone['stdev_ms']} ms |",
           f"| clone / cold boot, median of per-pair ratios | {st['pair_ratio_median']:.2f}× | | | |",
           "",
           f"Idle instances (tests/guest/sigwait), cold-booted and as clones, started one after "
           f"another; per instance: PSS and private memory (smaps_rollup, every process of "
           f"the Arrow's arrowh). The template's memory "
           f"file is {t['memory_file_bytes'] >> 20} MiB with {t['memory_file_on_disk_bytes'] / 1048576:.1f} "
           f"MiB on disk; its state file {t['state_file_bytes'] / 1024:.0f} KiB.", "",
           "| instances | cold: PSS | cold: private | clone: PSS | clone: private |",
           "|---|---|---|---|---|"]
    for rc, rk in zip(mem["cold boot"]["by_count"], mem["clone"]["by_count"]):
        out += [f"| {rc['instances']} | {kib(rc['pss_kib_per_instance'])} | "
                f"{kib(rc['private_kib_per_instance'])} | {kib(rk['pss_kib_per_instance'])} | "
                f"{kib(rk['private_kib_per_instance'])} |"]
    out += ["", "With one clone alone every page it maps of the memory file counts as its own "
            "(nobody shares it yet); from N = 10 on those pages are split between the clones."]
    rc, rk = mem["cold boot"]["by_count"][-1], mem["clone"]["by_count"][-1]
    out += ["", f"Of these, at N = {rc['instances']}, arrowh's supervisor (the sandbox): "
            f"cold {kib_new(rc.get('supervisor_pss_kib_per_instance'))} PSS, "
            f"{kib_new(rc.get('supervisor_private_kib_per_instance'))} private; clone "
            f"{kib_new(rk.get('supervisor_pss_kib_per_instance'))} PSS, "
            f"{kib_new(rk.get('supervisor_private_kib_per_instance'))} private."]
    sp = mem.get("clone_private_split_kib")
    if sp:
        out += ["", f"A clone's private memory at N = {mem['counts'][-1]}: {kib(sp['guest_ram_written'])} "
                f"of guest RAM it wrote after its start (its copy-on-write mapping of the memory "
                f"file) and {kib(sp['arrowh_itself'])} of arrowh's own"
                + (" (anonymous memory, Pss_Anon of both processes less the guest RAM written: "
                   if sp.get("measure") else " (") + "stacks, device buffers, "
                "data" + (f"; supervisor and VMM, of which the supervisor "
                          f"{kib(sp['of_which_supervisor'])}"
                          if sp.get("of_which_supervisor") is not None else "") +
                "). Started one after another until ready: "
                f"{mem['clone']['start']['seconds_to_all_ready']} s for {mem['clone']['start']['instances']} "
                f"clones ({mem['clone']['start']['per_second']}/s) vs "
                f"{mem['cold boot']['start']['seconds_to_all_ready']} s cold "
                f"({mem['cold boot']['start']['per_second']}/s)."]
    out += [""]
    out += replaced_instances("cold-booted", mem["cold boot"])
    out += replaced_instances("clone", mem["clone"])
    return out


def sandbox_section(sb):
    if not sb:
        return []
    out = ["### Sandbox cost (bench/sandbox.py)", ""] + stamp_line(sb) + [
           "A root-started arrowh is a supervisor and a jailed VMM child (namespaces, an "
           "unprivileged user, a seccomp allowlist: docs/security.md); `arrow run --no-sandbox` "
           "is the one-process arrowh without any of it. The same static hello, cold-booted "
           "(`arrow run --rm --network none`) and as a clone of a template (`arrow run --rm "
           f"--from`), each jailed and with `--no-sandbox`: {sb['runs']} pairs after a warm-up "
           "pair, the order inside a pair swapped every pair. Ratios are jailed / `--no-sandbox`. "
           "\"After the run loop\" runs from the VMM's run loop ending (`--timing`'s stop mark) "
           "until `arrow run` returned: arrowh's teardown and, jailed, the supervisor reaping "
           "the VMM and cleaning up.", "",
           "| | jailed | `--no-sandbox` | per-pair ratio, median | ratio of medians | "
           "difference of medians |", "|---|---|---|---|---|---|"]
    rows = (("arrow_run_wall", "`arrow run` until it returns"),
            ("launch_to_exit_record", "launch → EXIT record reaches the VMM"),
            ("after_run_loop", "after the run loop"))

    def cell(d):
        return (f"{d['median_ms']} ms ({d['min_ms']}–{d['max_ms']}, σ {d['stdev_ms']}, "
                f"n={d['runs']})")
    for kind in ("cold boot", "clone"):
        for key, text in rows:
            d = sb[kind].get(key)
            if d:
                out += [f"| {kind}: {text} | {cell(d['jailed'])} | {cell(d['no-sandbox'])} | "
                        f"**{d['pair_ratio_median']:.2f}×** | {d['ratio_of_medians']:.2f}× | "
                        f"{d['median_difference_ms']:+.1f} ms |"]
    cols = [(k, v) for k in ("cold boot", "clone") for v in ("jailed", "no-sandbox")]
    names = []
    for k, v in cols:
        names += [n for n in sb[k]["phases_median_ms"][v] if n not in names]
    out += ["", "Phases printed by `arrow run --timing`, medians in ms (jailed, `arrow CLI -> "
            "arrowh` includes forking the VMM and `arrowh setup` its jail):", "",
            "| phase | " + " | ".join(f"{k}, {v}" for k, v in cols) + " |",
            "|---|" + "---|" * len(cols)]
    for n in names:
        out += [f"| {n} | " + " | ".join(str(sb[k]["phases_median_ms"][v].get(n, "-"))
                                          for k, v in cols) + " |"]
    m = sb["memory"]
    j, u, diff = m["median_kib"]["jailed"], m["median_kib"]["no-sandbox"], \
        m["jailed_minus_no_sandbox_kib"]
    out += ["", f"One idle Arrow (tests/guest/sigwait, `arrow run -d`) at a time, jailed and "
            f"`--no-sandbox` alternating, medians of {m['runs_each']} each; every process of "
            "the Arrow (/proc/PID/smaps of the VMM with guest RAM apart, smaps_rollup of the "
            "supervisor). The VMM is forked from the supervisor, so pages both still hold "
            "copy-on-write are shared between them (split in PSS) rather than private to one:"
            " private memory can come out lower jailed.", "",
            "| | jailed | `--no-sandbox` | jailed − `--no-sandbox` |", "|---|---|---|---|"]
    for key, text in (("pss_kib", "PSS, all of the Arrow"),
                      ("vmm_pss_kib", "PSS excluding guest RAM"),
                      ("supervisor_pss_kib", "of which the supervisor"),
                      ("private_kib", "private, all of the Arrow"),
                      ("vmm_private_kib", "private excluding guest RAM"),
                      ("supervisor_private_kib", "of which the supervisor"),
                      ("guest_ram_pss_kib", "guest RAM touched (PSS)")):
        d = diff.get(key)
        unjailed = ("none (one process)" if key.startswith("supervisor_") and not u.get(key)
                    else kib(u.get(key)))
        out += [f"| {text} | {kib(j.get(key))} | {unjailed} | "
                f"{(f'{d:+.0f} KiB' if d is not None else '')} |"]
    out += replaced_runs(sb.get("replaced_runs"), "sandbox")
    return out + [""]


def images_section(im):
    if not im:
        return []
    b, f, c, a = im["build"], im.get("first_run"), im.get("cached_run"), im.get("assembly")
    ra, rn = im.get("ready_arrow"), im.get("ready_native")
    counts = im.get("assembly_counts", {})
    out = ["### Images: Debian's redis-server (bench/images.py)", ""] + stamp_line(im) + [
           f"An image of `{im['program']}` made with `arrow build --from-host` (one layer of "
           f"{im['layer_bytes'] / 1048576:.1f} MiB: the program, ld.so, 16 libraries); "
           "docs/images.md. Compare within this section.", "",
           "| | median (min, max, runs) |", "|---|---|",
           f"| `arrow build` (ELF walk, layer, blobs, index) | {ms(b)} |",
           *([f"| `arrow import` of it from an OCI archive into an empty store | {ms(im['import'])} |"]
             if "import" in im else []),
           f"| `arrow run --rm IMAGE --version`, piece cache empty | {ms(f)} |",
           f"| the same, piece cached | {ms(c)} |",
           f"| initramfs assembly (difference within each complete pair) | {ms(a)} |",
           f"| boot to ready: `arrow run -d -p` until `redis-cli PING` answers | {ms(ra)} |",
           f"| native `redis-server` start until it answers | {ms(rn)} |", ""]
    if counts:
        out += [f"Piece-cache pairs: {counts['pairs_attempted']} attempted, "
                f"{counts['cold_timed']} cold and {counts['warm_timed']} warm runs timed, "
                f"{counts['complete_pairs']} complete pair(s) give the assembly figure."
                + (" No pair completed, so there is no assembly figure." if not a else ""), ""]
    if a and f and c and abs(a["median_ms"]) < max(f["stdev_ms"], c["stdev_ms"]):
        out += ["Converting the layer into its piece is lost in the noise of an emulated boot here "
                "(the pairs differ by less than their spread).", ""]
    out += ["Boot to ready includes the kernel unpacking the initramfs, all under emulation; "
            "compare it with the native start only within this table.", ""]
    failed = im.get("failed_runs")
    if failed:
        out += [f"{len(failed)} run(s) failed or stalled and were not timed; what was seen:", ""]
        out += [f"- {evidence_text(ev)}" for ev in failed] + [""]
    elif im.get("stalled_runs"):
        out += [f"{len(im['stalled_runs'])} run(s) timed out and were not timed "
                f"({', '.join(im['stalled_runs'])}); this result file kept no evidence of why.", ""]
    return out


def lifecycle_section(lc):
    if not lc:
        return []
    st, ls = lc["start"], lc["listing"]
    out = ["### Managing Arrows (bench/lifecycle.py)", ""] + stamp_line(lc) + [
           "Start: from launching the command until it returns with the workload running in",
           "the background. `arrow run -d` returns once the VM runs (arrowh wrote its state);",
           "QEMU's `-daemonize` returns once its VM is set up; `setsid -f` is a native",
           "detached start of a static program, the floor.", "",
           "| start | median |", "|---|---|"]
    out += [f"| `{k}` | {ms(v)} |" for k, v in st.items()]
    out += ["", f"Listing with {ls['arrows']} Arrows in the state root (real ones: started, "
            f"then killed); `arrow ps -a` on an empty root took {ls['arrow ps -a (empty root)']} ms. "
            f"procps `ps -e` lists the system's processes plus {ls['arrows']} extra sleepers.", "",
            "| listing | median |", "|---|---|"]
    out += [f"| `{k}` | {ms(v)} |" for k, v in ls.items() if isinstance(v, dict)]
    return out + [""]


def network_section(net):
    if not net:
        return []
    w = net["wrk"]
    out = ["### HTTP over the Arrow network (bench/network.py)", ""] + stamp_line(net) + [
           f"`wrk -t{w['threads']} -c{w['connections']} -d{w['seconds']}s --latency` from the host "
           "against busybox httpd (Debian's static binary) inside an Arrow (default network: "
           "virtio-net, tap, bridge arrow0) and the same binary natively in a network namespace "
           "behind a veth pair, serving byte-identical pages. The published-port row goes "
           "through 127.0.0.1 and nftables DNAT.", ""]
    for size, rows in net["http"].items():
        base = rows.get("native (veth, netns)", {}).get("requests_per_s")
        out += [f"{size} page ({net['page_bytes'][size]} bytes):", "",
                "| server | requests/s | vs native | MiB/s | p50 | p90 | p99 |",
                "|---|---|---|---|---|---|---|"]
        for name, v in rows.items():
            ratio = f"{v['requests_per_s'] / base:.2f}×" if base else "-"
            out += [f"| {name} | {v['requests_per_s']:.0f} | {ratio} | {v['mib_per_s']} | "
                    f"{v['p50_ms']} ms | {v['p90_ms']} ms | {v['p99_ms']} ms |"]
        out += [""]
    return out


def exec_failure_text(ev):
    """One failed exec sample or transfer, with what was seen."""
    bits = [f"{ev.get('sample')}: {ev.get('seen')}"]
    if ev.get("stderr_tail"):
        bits.append("stderr: " + " / ".join(f"`{ln.strip()}`" for ln in ev["stderr_tail"][-3:]))
    if ev.get("arrow_replaced"):
        bits.append("the Arrow was broken and replaced")
    return "; ".join(bits)


def replaced_arrows_text(evs):
    out = []
    for ev in evs or []:
        st = ev.get("state") or {}
        logs = [ln.strip() for ln in ev.get("arrowh_log_tail", []) if "stopped at rip" in ln]
        out += [f"- {ev['arrow']} replaced after \"{ev['why_replaced']}\": it was "
                f"{st.get('Status', 'unknown')}" + (f"; arrowh: `{logs[0]}`" if logs else "")
                + " (the full tail of its arrowh.log is in the result file)"]
    return out


def exec_section(ex):
    if not ex:
        return []
    e, st = ex["exec"], ex["stream"]
    peers = e["peers"]
    base = (peers.get("arrow exec") or {}).get("ms")
    out = ["### arrow exec and vsock streams (bench/exec.py)", ""] + stamp_line(ex) + [
           f"**Exec latency.** {e['rounds']} rounds after one warm-up per peer (not kept); in "
           "each round every peer that runs here takes one turn, each round starting one peer "
           f"later. Every peer runs {e['program']}, and every sample is the same event: from "
           "the benchmark's fork of the command until the command has exited with status 0 "
           "(waitpid; its stdout and stderr go to files, so nothing left behind holds the "
           f"clock). A sample that fails or passes {e['timeout_s']} s is counted as failed, "
           "never replaced. The spread is the interquartile range (Q1–Q3) and min–max.", "",
           "| peer | median | Q1–Q3 | min–max | ok / attempted | `arrow exec` ÷ peer "
           "(below 1: `arrow exec` is faster) |",
           "|---|---|---|---|---|---|"]
    for name, p in peers.items():
        if not p["runs"]:
            continue
        m = p["ms"]
        ratio = "" if name == "arrow exec" else (
            f"**{base['median'] / m['median']:.2f}×**" if base and m else "-")
        if not m:
            out += [f"| {name} | no sample succeeded | | | 0 / {p['attempted']} | |"]
            continue
        out += [f"| {name} | {m['median']:.0f} ms | {m['q1']:.0f}–{m['q3']:.0f} ms | "
                f"{m['min']:.0f}–{m['max']:.0f} ms | {m['n']} / {p['attempted']} | {ratio} |"]
    out += ["", "Where each peer's clock stops (the command's exit with status 0 is the event "
            "timed for all; this is what has happened by then):", ""]
    for name, p in peers.items():
        if p["runs"]:
            out += [f"- **{name}** (`{p['command']}`): {p['event']}."
                    + "".join(f" Note: {n}." for n in p["notes"])]
    for name, p in peers.items():
        if p["runs"]:
            for ev in p.get("failures", []):
                out += [f"- failed sample of {name}: {exec_failure_text(ev)}"]
            w = p.get("warmup", {})
            if "seen" in w:
                out += [f"- the warm-up of {name} failed (not counted): {exec_failure_text(w)}"]
    out += replaced_arrows_text(peers.get("arrow exec", {}).get("arrows_replaced"))
    down = [(n, p) for n, p in peers.items() if not p["runs"]]
    if down:
        out += ["", "Peers that could not run in this environment, with the exact error of "
                "every way tried:", ""]
        for name, p in down:
            tried = [(f"`{a['command']}` → {a.get('exit_status')}: `{a['error']}`"
                      if a.get("command") else f"{a['what']}: `{a['error']}`")
                     for a in p["setup"] if a.get("error")]
            out += [f"- **{name}**: " + "; then ".join(tried)]
    if ex.get("kernel_has_bpf_syscall") is False:
        out += ["", "This kernel has no `bpf()` system call (no `CONFIG_BPF_SYSCALL`), which "
                "crun and runc need for the device controller of a cgroup v2 container; "
                "podman refuses `--cgroups=disabled` with runc (its error above)."]
    kinds = st["kinds"]
    mib = st["bytes"] / 1048576
    out += ["", f"**Stream throughput.** {mib:.0f} MiB per transfer, {st['rounds']} rounds "
            "after a 1 MiB warm-up of each kind, the six kinds taking turns as above; one "
            f"Arrow ({st['guest_memory_mib']} MiB, kernel {st['guest_kernel']}) runs "
            "tests/guest/streambench, which serves vsock and TCP with the same code and counts "
            "bytes (byte exactness is the integration tests' job). vsock goes through the "
            "Arrow's `vsock.sock` (docs/vsock.md), TCP to the Arrow's address on its bridge "
            "(tap, virtio-net). Timed on the host, the connection already open, from the "
            "request line until: host→guest, the guest's reply that it read every byte; "
            "guest→host, the end of file after the last byte. \"Opened by the guest\": the "
            "guest connects back (vsock: to the host's `vsock.sock_<port>`; TCP: to the "
            "bridge's host address) and its connect is inside the time. A transfer that fails "
            f"or is silent for {st['silence_timeout_s']} s is counted as failed; a broken "
            "Arrow is replaced for the next one.", "",
            "| direction | connection opened by | vsock MiB/s: median (Q1–Q3; min–max) | ok / "
            "attempted | TCP MiB/s: median (Q1–Q3; min–max) | ok / attempted | vsock ÷ TCP |",
            "|---|---|---|---|---|---|---|"]

    def cell(k):
        m = k["mib_per_s"]
        if not m:
            return "no transfer succeeded", f"0 / {k['attempted']}"
        return (f"{m['median']:.1f} ({m['q1']:.1f}–{m['q3']:.1f}; {m['min']:.1f}–{m['max']:.1f})",
                f"{m['n']} / {k['attempted']}")
    seen = []
    for k in kinds.values():
        key = (k["direction"], k["opened_by"])
        if key in seen:
            continue
        seen.append(key)
        v = next(x for x in kinds.values() if (x["direction"], x["opened_by"]) == key
                 and x["transport"] == "vsock")
        t = next(x for x in kinds.values() if (x["direction"], x["opened_by"]) == key
                 and x["transport"] == "tcp")
        ratio = st["ratio_vsock_to_tcp_medians"].get(f"{key[0]}, opened by the {key[1]}")
        out += [f"| {key[0]} | {key[1]} | {cell(v)[0]} | {cell(v)[1]} | {cell(t)[0]} | "
                f"{cell(t)[1]} | " + (f"**{ratio:.2f}×**" if ratio else "-") + " |"]
    for name, k in kinds.items():
        for ev in k["failures"]:
            out += [f"- failed transfer, {name}: {exec_failure_text(ev)}"]
        if "seen" in k.get("warmup", {}):
            out += [f"- the warm-up of {name} failed (not counted): "
                    f"{exec_failure_text(k['warmup'])}"]
    if st.get("arrows_replaced"):
        out += [""] + replaced_arrows_text(st["arrows_replaced"])
    v = ex.get("versions", {})
    out += ["", "Versions: " + ", ".join(f"{k} `{val}`" for k, val in v.items())
            + f"; /sys/fs/cgroup is `{ex.get('cgroup_fs')}`.", ""]
    return out


def functions_section(f):
    if not f:
        return []
    fr, rps, fresh, sc = f["first_request"], f["requests_per_second"], f["fresh"], f["scale"]
    mem = sc["private_kib_per_idle_instance"]
    out = ["### Functions (bench/functions.py)", ""] + stamp_line(f) + [
           "tests/guest/fnserver as a function behind arrow-gateway (docs/functions.md); "
           "`GET /hello` from a Python client on the same host, until the answer is read. "
           "Compare within this section.", "",
           "| first answer | median | min | max | runs |", "|---|---|---|---|---|"]
    for k in ("from zero (clone)", "cold-booted instance", "warm instance", "native start",
              "native warm"):
        d = fr[k]
        out += [f"| {k} | {d['median_ms']} ms | {d['min_ms']} ms | {d['max_ms']} ms | {d['runs']} |"]
    out += ["", "From zero: the gateway starts a clone of the function's template, waits until it "
            "accepts and forwards. Cold-booted: `arrow run -d` of the same server until its first "
            "answer (no gateway). Warm: the gateway with an instance running. Native: the server "
            "as a host process, spawn until its first answer; native warm: a request to it.", "",
            f"From zero / cold boot: **{fr['from_zero_over_cold_boot']:.2f}×** (ratio of medians).", "",
            f"Warm requests per second, {rps['client_threads']} client threads, {rps['requests']} "
            f"requests: through the gateway (one instance, --concurrency 8) "
            f"{rps['gateway, warm instance']}/s, the native server directly {rps['native']}/s: "
            f"**{rps['ratio']:.2f}×**.", "",
            f"--fresh (a new clone per request, destroyed after): {ms(fresh['per_request'])} per "
            f"request one after another; {fresh['requests_per_second']} requests/s with "
            f"{fresh['client_threads']} client threads and --max {fresh['max']}.", "",
            f"Instances started: {sc['instances']} through `POST /system/scale-function` until all "
            f"accepted in {sc['seconds']} s ({sc['per_second']}/s; starts are serialised in the "
            f"gateway). Private memory per idle instance ("
            f"{mem.get('measure', 'its VMM process' + chr(39) + 's Private_Clean + Private_Dirty')}"
            f", /system/metrics): median {kib(mem['median'])} "
            f"(min {kib(mem['min'])}, max {kib(mem['max'])}, n={mem['instances']}).", ""]
    return out


def oci_section(oc):
    if not oc:
        return []
    pr, lc, mem = oc["podman_run"], oc["lifecycle"], oc["memory"]
    broken = [(n, x["error"]) for n, x in (("podman run", pr), ("create → start → delete", lc),
                                           ("memory", mem)) if "error" in x]
    if broken:
        return ["### OCI runtime (bench/oci.py)", ""] + stamp_line(oc) + [
                f"A part of the benchmark failed; nothing of it is shown: {n}: "
                f"`{e.strip().splitlines()[-1]}` (the traceback is in the result file)."
                for n, e in broken] + [""]
    peers = pr["peers"]
    base_name = pr["base"]
    base = (peers.get(base_name) or {}).get("ms")
    out = ["### OCI runtime (bench/oci.py)", ""] + stamp_line(oc) + [
           f"**`podman run --rm IMG /bin/true`.** arrow-oci (docs/oci.md) as podman's runtime "
           "against crun and runc, and against `arrow run --rm` of the same program without "
           f"podman. Every peer runs {pr['program']}. Podman: rootful, vfs storage on the "
           "helper's tmpfs, `--cgroup-manager cgroupfs`, `--network none`, one image imported "
           "from a busybox tree. Every sample is the same event: from the benchmark's fork of "
           "the command until it has exited with status 0 (waitpid; stdout and stderr to "
           f"files). One warm-up per peer (not kept), then {pr['rounds']} rounds, the peers "
           "taking turns, each round starting one peer later. A sample that fails or passes "
           f"{pr['timeout_s']} s is counted as failed, never replaced. Spread: interquartile "
           "range (Q1–Q3) and min–max.", "",
           "| peer | median | Q1–Q3 | min–max | ok / attempted | arrow-oci ÷ peer "
           "(above 1: arrow-oci is slower) |",
           "|---|---|---|---|---|---|"]
    nocg = pr.get("ratio_arrow_oci_nocgroup_to_peer_medians") or {}
    for name, p in peers.items():
        if not p["runs"]:
            continue
        m = p["ms"]
        if not m:
            out += [f"| {name} | no sample succeeded | | | 0 / {p['attempted']} | |"]
            continue
        ratio = "" if name == base_name else (
            f"**{base['median'] / m['median']:.2f}×**" if base else "-")
        out += [f"| {name} | {m['median']:.0f} ms | {m['q1']:.0f}–{m['q3']:.0f} ms | "
                f"{m['min']:.0f}–{m['max']:.0f} ms | {m['n']} / {p['attempted']} | {ratio} |"]
    oci_nocg = peers.get(base_name + ", --cgroups=disabled")
    if oci_nocg and not oci_nocg["runs"] and any(
            p["runs"] and "--cgroups=disabled" in name for name, p in peers.items()):
        out += ["", "Not like for like in one respect: the podman peers that ran only without "
                "a cgroup (`--cgroups=disabled`) ran so, arrow-oci with its cgroup (podman's "
                "cgroupfs manager; arrow-oci creates it), because podman accepts "
                "`--cgroups=disabled` with no runtime but crun (its error below)."]
    if nocg:
        out += ["", "Like for like, both without a cgroup: arrow-oci `--cgroups=disabled` ÷ "
                + ", ".join(f"{n}: **{r:.2f}×**" for n, r in nocg.items()) + "."]
    out += ["", "Where each peer's clock stops:", ""]
    for name, p in peers.items():
        if p["runs"]:
            out += [f"- **{name}** (`{p['command']}`): {p['event']}."
                    + "".join(f" Note: {n}." for n in p["notes"])]
    for name, p in peers.items():
        if p["runs"]:
            for ev in p.get("failures", []):
                out += [f"- failed sample of {name}: {exec_failure_text(ev)}"]
            w = p.get("warmup", {})
            if "seen" in w:
                out += [f"- the warm-up of {name} failed (not counted): {exec_failure_text(w)}"]
    down = [(n, p) for n, p in peers.items() if not p["runs"]]
    if down:
        out += ["", "Peers that could not run here, with the exact error of every way tried:", ""]
        for name, p in down:
            out += [f"- **{name}**: " + "; then ".join(setup_text(p["setup"]))]

    rts = lc["runtimes"]
    out += ["", "**create → start → delete, the runtime driven directly.** A bundle whose "
            f"rootfs holds the static busybox; config.json from `{lc['config']['from']}` "
            f"({lc['config']['changed']})"
            + "".join(f"; `{t['command']}` was refused: `{t['error']}`"
                      for t in lc["config"]["tried"] if t.get("error"))
            + ". The benchmark is a child subreaper, as conmon and containerd's shim are: "
            "the container process is re-parented to it when `create` exits. **create**: fork "
            "of `create --bundle B --pid-file P ID` until it exits 0 (the container process "
            "waits for start). **start → app exit**: fork of `start ID` until waitpid on the "
            "pid file's process returns status 0 (`start` returning is shown apart). "
            "**delete**: `delete ID` until it exits 0. One probe and one warm-up per runtime "
            f"(not kept), then {lc['rounds']} rounds, taking turns. Medians (Q1–Q3).", "",
            "| runtime | create | start returns | start → app exit | delete | total | ok / "
            "attempted |", "|---|---|---|---|---|---|---|"]

    def q(d):
        return f"{d['median']:.0f} ms ({d['q1']:.0f}–{d['q3']:.0f})" if d else "-"
    for name, e in rts.items():
        if not e["runs"]:
            continue
        ph = e["phases_ms"]
        if not ph.get("total"):
            out += [f"| {e.get('name', name)} | no sample succeeded | | | | | "
                    f"0 / {e['attempted']} |"]
            continue
        out += [f"| {e.get('name', name)} | {q(ph['create'])} | {q(ph['start_returned'])} | "
                f"{q(ph['start_to_app_exit'])} | {q(ph['delete'])} | {q(ph['total'])} | "
                f"{ph['total']['n']} / {e['attempted']} |"]
    for name, r in lc.get("ratio_arrow_oci_to_runtime_medians", {}).items():
        out += ["", f"arrow-oci ÷ {rts[name].get('name', name)} (medians): "
                + ", ".join(f"{k.replace('_', ' ')} **{v:.2f}×**" for k, v in r.items()) + "."]
    notes = [f"- {e.get('name', n)}: {x}" for n, e in rts.items() for x in e.get("notes", [])]
    for name, e in rts.items():
        for ev in e.get("failures", []):
            notes += [f"- failed sample of {name}: {ev.get('phase')}: {exec_failure_text(ev)}"]
        if "seen" in (e.get("warmup") or {}):
            notes += [f"- the warm-up of {name} failed (not counted): "
                      f"{e['warmup'].get('phase')}: {exec_failure_text(e['warmup'])}"]
    down = [(n, e) for n, e in rts.items() if not e["runs"]]
    for name, e in down:
        notes += [f"- **{name}** could not run: " + "; then ".join(setup_text(e["setup"]))]
    if notes:
        out += [""] + notes
    if oc.get("arrow_oci_boots_at") == "create":
        boots = ("boot at `create` every time (the guest then waits at the start gate; "
                 "`start` only releases the process)")
    else:  # results of the code before the start gate
        boots = ("boot at `start` every time (create only prepared the initramfs pieces and "
                 "the waiting process)")
    out += ["", f"No template clone: {oc['template_clone']}. Its create→start is a cold "
            + boots + "."]

    kinds = mem["kinds"]
    out += ["", f"**Memory per idle container.** {mem['program']}; measured once it printed "
            "\"ready\" and 2 s after, from /proc/PID/smaps_rollup (arrowh's VMM also from "
            "/proc/PID/smaps, to set guest RAM apart; never RSS for the comparison). A "
            "container is the runtime's container process and all its descendants; conmon, "
            "its parent, is shown apart. arrow-oci: the arrowh supervisor (the container "
            "process, which execs arrowh), its jailed VMM (holds guest RAM, "
            f"{mem['guest_memory_mib']} MiB) and the rootfs sidecar. `arrow run -d`: the same "
            "without podman and without a rootfs share. "
            f"{mem['runs_each']} containers of each kind, one at a time, taking turns; medians.",
            "", "| container | PSS | private | guest RAM PSS | PSS without guest RAM | "
            "conmon PSS (apart) | ok / attempted |", "|---|---|---|---|---|---|---|"]
    for name, k in kinds.items():
        m = k["median_kib"]
        if not m:
            out += [f"| {name} | not measured | | | | | 0 / {k['attempted']} |"]
            continue
        cm = k.get("conmon_median_kib")
        out += [f"| {name} | {kib(m['pss_kib'])} | {kib(m['private_kib'])} | "
                f"{kib(m['guest_ram_pss_kib']) if m['guest_ram_pss_kib'] else '-'} | "
                f"{kib(m['without_guest_ram_pss_kib'])} | "
                f"{kib(cm['pss_kib']) if cm else '-'} | {k['ok']} / {k['attempted']} |"]
    out += ["", "Per process (medians):", "", "| container | process | per container | PSS | "
            "private | guest RAM PSS |", "|---|---|---|---|---|---|"]
    for name, k in kinds.items():
        for role, r in k.get("by_role_median_kib", {}).items():
            out += [f"| {name} | {role} | {r['processes_per_container']:g} | "
                    f"{kib(r['pss_kib'])} | {kib(r['private_kib'])} | "
                    f"{kib(r['guest_ram_pss_kib']) if r['guest_ram_pss_kib'] else '-'} |"]
    for name, k in kinds.items():
        for err in k["errors"]:
            out += [f"- failed idle container of {name}: `{err}`"]
    oci = next((k for n, k in kinds.items() if "arrow-oci" in n and k["median_kib"]), None)
    others = [(n, k) for n, k in kinds.items() if "arrow-oci" not in n and k["median_kib"]]
    if oci and others:
        out += ["", "arrow-oci ÷ peer, PSS (medians): " + ", ".join(
            f"{n} **{oci['median_kib']['pss_kib'] / k['median_kib']['pss_kib']:.1f}×**"
            for n, k in others) + "."]
    if oc.get("kernel_has_bpf_syscall") is False:
        out += ["", "This kernel has no `bpf()` system call (no `CONFIG_BPF_SYSCALL`), which "
                "crun and runc need for the device controller of a cgroup v2 container."]
    v = oc.get("versions", {})
    out += ["", "Versions: " + ", ".join(f"{k} `{val}`" for k, val in v.items())
            + f"; /sys/fs/cgroup is `{oc.get('cgroup_fs')}`.", ""]
    return out


def setup_text(setup):
    """Each way a peer was tried and failed, with its exact error (on one line)."""
    one = lambda e: " / ".join(ln.strip() for ln in str(e).splitlines() if ln.strip())
    status = lambda a: f" → {a['exit_status']}" if a.get("exit_status") is not None else ""
    return [(f"`{a['command']}`{status(a)}: `{one(a['error'])}`"
             if a.get("command") else f"{a['what']}: `{one(a['error'])}`")
            for a in setup if a.get("error")]


# ---- targets and the rest -------------------------------------------------------------------

def targets(results, side):
    density, clones = side["density"], side["clones"]
    out = ["## Targets", "",
           "| target | meaning | " + " | ".join(f"today, {r['environment']}" for r in results) + " |",
           "|---|---|" + "---|" * len(results)]
    mem_row = "| arrowh VMM memory < 2 MiB | PSS of arrowh excluding guest RAM |"
    pss_ratio_row = "| arrowh VMM PSS ≤ 1/10 of QEMU's | PSS excluding guest RAM, ratio |"
    boot_row = ("| boot to app ≤ 0.25× QEMU microvm | launch → EXIT record (equal end events), "
                "ratio of medians; same kernel and initramfs |")
    for r in results:
        ah = r.get("memory", {}).get("arrowh", {})
        qm = r.get("memory", {}).get("qemu", {})
        vmm, qvmm = ah.get("vmm_pss_kib"), qm.get("vmm_pss_kib")
        mem_row += (f" {kib(vmm)} ({'met' if vmm < 2048 else 'not met'}) |" if vmm is not None
                    else " not measured (no PSS in this result) |")
        if vmm and qvmm:
            ratio = vmm / qvmm
            pss_ratio_row += f" 1/{1 / ratio:.0f} ({'met' if ratio <= 0.1 else 'not met'}) |"
        else:
            pss_ratio_row += " - |"
        if "boot" in r:
            ratio = r["boot"]["ratio_of_medians"]
            boot_row += f" {ratio:.2f}× ({'met' if ratio <= 0.25 else 'not met'}) |"
        else:
            boot_row += " not measured with equal end events |"
    pss_row = "| per-Arrow PSS trend as N grows | host PSS per idle Arrow at N = 1, 10, 50 |"
    for r in results:
        d = density.get(r["environment"])
        pss_row += (" " + " → ".join(kib(x["pss_kib_per_instance"]) for x in d["arrowh"]["by_count"])
                    + " |") if d else " - |"
    clone_row = "| clone start ≤ 10 % of a cold boot (helper VM), ≤ 5 ms (real KVM) | start to app exit, median of per-pair ratios |"
    priv_row = "| ≤ 1 MiB private memory per clone | private memory per idle clone at N = 50 |"
    for r in results:
        c = clones.get(r["environment"])
        if not c:
            clone_row += " - |"
            priv_row += " - |"
            continue
        ratio = c["start"]["pair_ratio_median"]
        clone_row += f" {ratio:.2f}× ({'met' if ratio <= 0.10 else 'not met'}) |"
        p = c["memory"]["clone"]["by_count"][-1]["private_kib_per_instance"]
        priv_row += f" {kib(p)} ({'met' if p <= 1024 else 'not met'}) |"
    fz_row = "| function from zero ≤ 0.1× a cold boot | first answer, ratio of medians (bench/functions.py) |"
    fm_row = ("| ≤ 1 MiB private per idle function instance | the instance's own memory as measured "
              "(Functions above: anonymous memory of VMM and supervisor since 2026-12-03), median "
              "(bench/functions.py) |")
    for r in results:
        f = side["functions"].get(r["environment"])
        if not f:
            fz_row += " - |"
            fm_row += " - |"
            continue
        ratio = f["first_request"]["from_zero_over_cold_boot"]
        fz_row += f" {ratio:.2f}× ({'met' if ratio <= 0.1 else 'not met'}) |"
        p = f["scale"]["private_kib_per_idle_instance"]["median"]
        fm_row += f" {kib(p)} ({'met' if p <= 1024 else 'not met'}) |"
    return out + [mem_row, pss_ratio_row, boot_row, pss_row, clone_row, priv_row, fz_row,
                  fm_row, ""]


REPRODUCE = [
    "## Reproduce by hand", "",
    "```sh",
    "make bench                       # everything above",
    "arrow run --network none --timing build/tests/guest/hello",
    "#   --timing ends with 'arrowh-marks:' (CLOCK_MONOTONIC ns of each record) and",
    "#   'arrowh-kvmstats:' lines (KVM's exit counters per phase)",
    "# where /dev/kvm is kvm-pvm: prefix with  arrow machine --",
    "ARROW_ARROWH=bench/capture-arrowh.sh CAPTURE_INITRAMFS=/tmp/hello.cpio \\",
    "    arrow run --network none build/tests/guest/hello   # the exact initramfs, for QEMU",
    "# QEMU: the control port to a unix socket you listen on (records are 24 bytes,",
    "# src/common/protocol.h; type 3 = EXIT), QMP for KVM's counters (-S: starts paused)",
    "socat -u UNIX-LISTEN:/tmp/ctl - | od -An -tu2 -w24 &   # third number: record type",
    "qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=off,rtc=off,acpi=off \\",
    "    -accel kvm -cpu host -m 128 -nodefaults -no-user-config -display none -no-reboot \\",
    "    -kernel build/lib/arrow/vmlinux -initrd /tmp/hello.cpio \\",
    "    -append 'console=hvc0 quiet panic=-1 no_timer_check tsc=reliable reboot=t' \\",
    "    -device virtio-serial-device,max_ports=5 -chardev null,id=con -device virtconsole,chardev=con \\",
    "    -chardev null,id=in -device virtserialport,chardev=in,name=arrow.stdin \\",
    "    -chardev file,id=out,path=/dev/stdout -device virtserialport,chardev=out,name=arrow.stdout \\",
    "    -chardev null,id=err -device virtserialport,chardev=err,name=arrow.stderr \\",
    "    -chardev socket,id=ctl,path=/tmp/ctl -device virtserialport,chardev=ctl,name=arrow.control \\",
    "    -qmp unix:/tmp/qmp,server=on,wait=off",
    "#   QMP: {\"execute\":\"query-stats\",\"arguments\":{\"target\":\"vcpu\",\"providers\":[{\"provider\":\"kvm\"}]}}",
    "# the same binary natively, and in an OCI bundle (rootfs with only the binary)",
    "build/tests/guest/hello",
    "mkdir -p /tmp/b/rootfs && cp build/tests/guest/hello /tmp/b/rootfs/ && cd /tmp/b && crun spec",
    "#   config.json: process.args [\"/hello\"], terminal false, root.readonly true",
    "crun run --bundle /tmp/b hello1     # runc where crun refuses a hybrid cgroup host",
    "# memory of one idle VMM: Pss and Private_* per mapping, guest RAM left out",
    "grep -E '^(Pss|Private_Clean|Private_Dirty):' /proc/$(pgrep -n arrowh)/smaps",
    "# many idle Arrows (bench/density.py): start 50, read PSS per arrowh",
    "for i in $(seq 50); do arrow run -d --network none build/tests/guest/sigwait; done",
    "for p in $(pgrep -x arrowh); do grep ^Pss: /proc/$p/smaps_rollup; done",
    "# clones (bench/clones.py): a template, then clones of it vs cold boots",
    "arrow template create h --network none build/tests/guest/hello",
    "arrow run --rm --from h; arrow run --rm --network none build/tests/guest/hello",
    "arrow run --rm --timing --from h   # a clone's exit counts (phase=resume)",
    "arrow template create idle --network none build/tests/guest/sigwait",
    "for i in $(seq 50); do arrow run -d --network none --from idle; done",
    "# the sandbox (bench/sandbox.py): jailed vs --no-sandbox; a jailed Arrow is two processes",
    "arrow run --rm --timing --network none build/tests/guest/hello",
    "arrow run --rm --timing --no-sandbox --network none build/tests/guest/hello",
    "id=$(arrow run -d --network none build/tests/guest/sigwait)",
    "arrow inspect $id   # Sandbox: VmmPid; state.json: pid (supervisor), vmm_pid",
    "# images (bench/images.py): Debian's redis-server as an image, to PONG",
    "arrow build -t redis --from-host redis-server -- --protected-mode no",
    "arrow run -d -p 16390:6379 redis; until redis-cli -p 16390 PING; do :; done",
    "# HTTP (bench/network.py): an Arrow vs the same busybox httpd in a netns behind a veth",
    "arrow run -d -p 18080:80 /bin/busybox httpd -f -p 80 -h /",
    "wrk -t1 -c8 -d8s --latency http://127.0.0.1:18080/etc/hosts",
    "ip netns add nb; ip link add ab-host type veth peer name ab-ns netns nb",
    "ip addr add 10.199.0.1/30 dev ab-host; ip link set ab-host up",
    "ip -n nb addr add 10.199.0.2/30 dev ab-ns; ip -n nb link set ab-ns up",
    "ip netns exec nb busybox httpd -f -p 80 -h DIR_WITH_THE_SAME_PAGES &",
    "wrk -t1 -c8 -d8s --latency http://10.199.0.2/etc/hosts",
    "# exec and streams (bench/exec.py): the same busybox true everywhere",
    "arrow run -d --name a --network none /bin/busybox sleep 1000000",
    "time arrow exec a /app/busybox true",
    "time podman exec C /bin/true; time crun exec C /bin/true; time nsenter -t PID -a /bin/busybox true",
    "arrow run -d --name s build/tests/guest/streambench serve 5201 5201",
    "#   vsock: connect to $(arrow inspect s)'s StateDir/vsock.sock, send 'CONNECT 5201\\n',",
    "#   read 'OK ...'; then 'RECV N\\n' + N bytes (reply 'OK N') or 'SEND N\\n' (N bytes back);",
    "#   TCP: the same lines to the Arrow's IP, port 5201",
    "# arrow-oci (bench/oci.py): podman with each runtime, then a bundle driven directly",
    "podman --storage-driver vfs --cgroup-manager cgroupfs --runtime build/bin/arrow-oci \\",
    "    run --rm --network none localhost/bb /bin/true      # and --runtime crun --cgroups=disabled",
    "arrow-oci create --bundle B --pid-file P c1; arrow-oci start c1   # then wait on P's pid",
    "arrow-oci delete c1",
    "```", ""]


def load(results_dir):
    """The boot results (one per environment) and the side results, by environment."""
    paths = sorted(glob.glob(os.path.join(results_dir, "*.json")))
    suffixes = tuple(SIDE.values())
    results = [json.load(open(p)) for p in paths if not p.endswith(suffixes)]
    side = {name: {} for name in SIDE}
    for p in paths:
        for name, suffix in SIDE.items():
            if p.endswith(suffix):
                extra = json.load(open(p))
                side[name][extra["environment"]] = extra
    return results, side


def main():
    results, side = load(sys.argv[1])
    docs = os.path.dirname(os.path.abspath(sys.argv[2]))
    out = ["# Performance", "",
           "Generated by `make bench` (bench/run.sh → bench/boot.py → bench/report.py); raw results in",
           "`bench/results/`. Peers are measured side by side in the same run; figures from",
           "different environments are never compared with each other. Under every heading, the",
           "stamp of its result file: run id, commit, date, kernel images, kernel release, CPUs.", "",
           "Noise control: one warm-up run per peer, then the peers alternate run by run so that",
           "drift hits all alike; medians with min/max and σ; ratios also taken pair by pair. No CPU",
           "pinning: the helper VM's 2 vCPUs are all the host has, shared by every peer in turn,",
           "so it was not tried.", ""]
    for r in results:
        env = r["environment"]
        sections = {"boot": r, **{name: side[name].get(env) for name in SIDE}}
        out += [f"## {env}", "", f"{ENV_TEXT.get(env, env)}.", ""]
        out += [f"Guest memory {r['guest_memory_mib']} MiB, 1 vCPU.", ""]
        out += provenance(env, sections)
        out += boot_table(r) if "boot" in r else boot_table_old(r)
        out += peers_table(r, docs)
        out += ["Phases reported by `arrow run --timing` (medians, host clock):", "",
                "| phase | ms |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in r["arrow_phases_median_ms"].items()]
        out += [""]
        out += exit_counts_section(r)
        out += memory_section(r)
        out += density_section(sections["density"], docs)
        out += clones_section(sections["clones"])
        out += sandbox_section(sections["sandbox"])
        out += images_section(sections["images"])
        out += lifecycle_section(sections["lifecycle"])
        out += network_section(sections["network"])
        out += exec_section(sections["exec"])
        out += functions_section(sections["functions"])
        out += oci_section(sections["oci"])
    out += targets(results, side)
    out += REPRODUCE
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("\n".join(out))
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])


if __name__ == "__main__":
    main()
