#!/usr/bin/python3
"""Render docs/performance.md from bench/results/*.json (one column group per environment)."""
import glob
import json
import os
import shutil
import subprocess
import sys

ENV_TEXT = {
    "helper-vm": "inside the machine-mode helper VM: QEMU TCG (software) with emulated AMD SVM on a "
                 "2-core kvm-pvm host; every guest exit is emulated, so only ratios within this "
                 "column mean anything",
    "native-kvm": "directly on the host's KVM",
}


def ms(d):
    return f"{d['median_ms']:.0f} ms (min {d['min_ms']:.0f}, max {d['max_ms']:.0f}, n={d['runs']})"


def kib(v):
    return f"{v / 1024:.2f} MiB" if v is not None else "-"


def chart(png, script, data):
    """Render one PNG with gnuplot; returns the Markdown that shows it (or says why not)."""
    if not shutil.which("gnuplot"):
        return ["(chart not drawn: gnuplot is not installed; `scripts/setup.sh bench` installs it)", ""]
    r = subprocess.run(["gnuplot"], input=f"set terminal pngcairo size 760,380 font 'sans,10'\n"
                       f"set output '{png}'\n{script}\n" + data, text=True, capture_output=True)
    if r.returncode:
        return [f"(chart not drawn: gnuplot failed: {r.stderr.strip()})", ""]
    return [f"![{os.path.basename(png)}]({os.path.basename(png)})", ""]


def peers_table(r, docs):
    """Boot to app of every peer, in one table and one chart."""
    e2e = r["end_to_end"]
    rows = [("native exec", e2e.get("native exec"))]
    c = r.get("container", {})
    if c.get("runtime"):
        rows.append((f"{c['runtime']} run (OCI bundle)", c))
    rows += [("arrow run", e2e["arrow run"]), ("QEMU microvm", e2e["qemu microvm"])]
    rows = [(n, v) for n, v in rows if v]
    native = e2e.get("native exec", {}).get("median_ms")
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
    out += [""]
    data = "".join(f'"{n}" {v["median_ms"]}\n' for n, v in rows) + "e\n"
    out += chart(os.path.join(docs, f"perf-boot-{r['environment']}.png"),
                 "set style fill solid 0.6\nset boxwidth 0.6\nset logscale y\n"
                 "set ylabel 'ms to app exit (median, log scale)'\nset grid ytics\n"
                 f"set title 'Boot to app, {r['environment']}'\nunset key\n"
                 "plot '-' using 0:2:xtic(1) with boxes, "
                 "'' using 0:2:(sprintf('%.0f ms', $2)) with labels offset 0,0.8", data + data)
    return out


def density_section(d, docs):
    if not d:
        return []
    a, q = d["arrowh"], d["qemu microvm"]
    out = ["### Many idle Arrows (bench/density.py)", "",
           f"Idle instances of the same program (prints \"ready\", then waits), guest memory "
           f"{d['guest_memory_mib']} MiB each; host PSS from /proc/PID/smaps_rollup summed over "
           "all instances (PSS splits each shared page between the processes that map it; guest "
           "RAM the guest touched is included).", "",
           "| instances | arrowh PSS per instance | private | QEMU PSS per instance | private |",
           "|---|---|---|---|---|"]
    for ra, rq in zip(a["by_count"], q["by_count"]):
        out += [f"| {ra['instances']} | {kib(ra['pss_kib_per_instance'])} | "
                f"{kib(ra['private_kib_per_instance'])} | {kib(rq['pss_kib_per_instance'])} | "
                f"{kib(rq['private_kib_per_instance'])} |"]
    out += ["", "| | arrowh | QEMU microvm |", "|---|---|---|",
            f"| started one after another (each once the previous one was ready), all {a['start']['instances']} | "
            f"{a['start']['seconds_to_all_ready']} s ({a['start']['per_second']}/s) | "
            f"{q['start']['seconds_to_all_ready']} s ({q['start']['per_second']}/s) |",
            f"| idle instances in {d['budget_mib']} MiB at the PSS per instance of the largest fleet "
            f"(computed) | {a['fit_in_budget']} | {q['fit_in_budget']} |", ""]
    for name, v in (("Arrow", a), ("QEMU", q)):
        if v.get("replaced_never_ready"):
            out += [f"{v['replaced_never_ready']} {name} instance(s) never printed \"ready\" within "
                    "120 s (the helper VM's vCPU wedge, docs/machine.md) and were replaced; the "
                    "time spent on them is left out of the start rate.", ""]
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
    out = ["### Clones of a template (bench/clones.py)", "",
           "The same static hello, cold-booted (`arrow run --network none hello`) and as a clone "
           "of a template made from that command (`arrow run --from`; docs/snapshots.md), "
           f"alternating, {cold['runs']} pairs after a warm-up pair; from launch until "
           "`arrow run` returns after the app exited. This section may come from another helper "
           "session than the ones above: compare within it (its cold boots are its baseline).", "",
           "| start to app exit | median | min | max | σ |", "|---|---|---|---|---|",
           f"| cold boot | {cold['median_ms']} ms | {cold['min_ms']} ms | {cold['max_ms']} ms | "
           f"{cold['stdev_ms']} ms |",
           f"| clone | {clone['median_ms']} ms | {clone['min_ms']} ms | {clone['max_ms']} ms | "
           f"{clone['stdev_ms']} ms |",
           f"| clone / cold boot, median of per-pair ratios | {st['pair_ratio_median']:.2f}× | | | |",
           "",
           f"Idle instances (tests/guest/sigwait), cold-booted and as clones, started one after "
           f"another; per instance: PSS and private memory (smaps_rollup). The template's memory "
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
    sp = mem.get("clone_private_split_kib")
    if sp:
        out += ["", f"A clone's private memory at N = {mem['counts'][-1]}: {kib(sp['guest_ram_written'])} "
                f"of guest RAM it wrote after its start (its copy-on-write mapping of the memory "
                f"file) and {kib(sp['arrowh_itself'])} of arrowh's own (stacks, device buffers, "
                "data). Started one after another until ready: "
                f"{mem['clone']['start']['seconds_to_all_ready']} s for {mem['clone']['start']['instances']} "
                f"clones ({mem['clone']['start']['per_second']}/s) vs "
                f"{mem['cold boot']['start']['seconds_to_all_ready']} s cold "
                f"({mem['cold boot']['start']['per_second']}/s)."]
    return out + [""]


def images_section(im):
    if not im:
        return []
    b, f, c, a = im["build"], im["first_run"], im["cached_run"], im["assembly"]
    ra, rn = im["ready_arrow"], im["ready_native"]
    return ["### Images: Debian's redis-server (bench/images.py)", "",
            f"An image of `{im['program']}` made with `arrow build --from-host` (one layer of "
            f"{im['layer_bytes'] / 1048576:.1f} MiB: the program, ld.so, 16 libraries); "
            "docs/images.md. This section may come from another helper session than the ones "
            "above: compare within it.", "",
            "| | median (min, max, runs) |", "|---|---|",
            f"| `arrow build` (ELF walk, layer, blobs, index) | {ms(b)} |",
            *([f"| `arrow import` of it from an OCI archive into an empty store | {ms(im['import'])} |"]
              if "import" in im else []),
            f"| `arrow run --rm IMAGE --version`, piece cache empty | {ms(f)} |",
            f"| the same, piece cached | {ms(c)} |",
            f"| initramfs assembly (difference within each pair) | {ms(a)} |",
            f"| boot to ready: `arrow run -d -p` until `redis-cli PING` answers | {ms(ra)} |",
            f"| native `redis-server` start until it answers | {ms(rn)} |", "",
            "Converting the layer into its piece is lost in the noise of an emulated boot here "
            "(the pairs differ by less than their spread). Boot to ready includes the kernel "
            "unpacking the 17 MiB initramfs, all under emulation; compare it with the native "
            "start only within this table."
            + (f" {len(im['stalled_runs'])} run(s) stalled in the helper VM (docs/machine.md) and "
               "were left out." if im.get("stalled_runs") else ""), ""]


def main():
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")))
    side = {".lifecycle.json": {}, ".network.json": {}, ".density.json": {}, ".clones.json": {},
            ".images.json": {}}
    results = [json.load(open(p)) for p in paths if not p.endswith(tuple(side))]
    for p in paths:
        for suffix, by_env in side.items():
            if p.endswith(suffix):
                extra = json.load(open(p))
                by_env[extra["environment"]] = extra
    lifecycle, network, density, clones, images = side.values()
    docs = os.path.dirname(os.path.abspath(sys.argv[2]))
    out = ["# Performance", "",
           "Generated by `make bench` (bench/run.sh → bench/boot.py → bench/report.py); raw results in",
           "`bench/results/`. Each environment is measured in one run, peers side by side; figures from",
           "different environments are never compared with each other.", "",
           "Noise control: one warm-up run per peer, then the peers alternate run by run so that",
           "drift hits all alike; medians with min/max and σ; ratios also taken pair by pair. No CPU",
           "pinning: the helper VM's 2 vCPUs are all the host has, shared by every peer in turn,",
           "so it was not tried.", ""]
    for r in results:
        e2e = r["end_to_end"]
        a, q = e2e["arrow run"], e2e["qemu microvm"]
        mem = r.get("memory", {})
        ah, qm = mem.get("arrowh", {}), mem.get("qemu", {})
        out += [f"## {r['environment']}", "",
                f"{ENV_TEXT.get(r['environment'], r['environment'])}.",
                f"Measured {r['date']} at commit `{r['commit']}` on {r['cpus']} CPUs, host kernel "
                f"{r['kernel_release']}; guest memory {r['guest_memory_mib']} MiB, 1 vCPU.", "",
                "### Boot to app: a static hello, from launch to exit",
                "",
                "| | arrowh (`arrow run`) | QEMU `-M microvm` | ratio |",
                "|---|---|---|---|",
                f"| end-to-end, median | {ms(a)} | {ms(q)} | {a['median_ms'] / q['median_ms']:.2f}× |",
                f"| median of the {a['runs']} per-run ratios (each pair back to back) | | | "
                f"{r['pair_ratio_median']:.2f}× |" if "pair_ratio_median" in r else "| | | | |",
                f"| guest clock when ainit starts | {r['guest_clock_at_ainit_ms']['arrowh']} ms | "
                f"{r['guest_clock_at_ainit_ms']['qemu microvm']} ms | |",
                "",
                "Both boot the same `vmlinux` (QEMU through its PVH entry, arrowh through the 64-bit boot",
                "protocol) with the same initramfs bytes (captured from `arrow run`), the same ainit and",
                "the same virtio-console ports. `arrow run` includes the CLI (program check, cached",
                "initramfs pieces) and exec of arrowh.", "",
                ] + peers_table(r, docs) + [
                "Phases reported by `arrow run --timing` (medians, host clock):", "",
                "| phase | ms |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in r["arrow_phases_median_ms"].items()]
        out += ["",
                "### Memory of one idle Arrow (from /proc/PID/smaps)", "",
                "| | arrowh | QEMU microvm |", "|---|---|---|",
                f"| VMM resident memory excluding guest RAM | {kib(ah.get('vmm_rss_kib'))} | "
                f"{kib(qm.get('vmm_rss_kib'))} |",
                f"| guest RAM touched | {kib(ah.get('guest_ram_rss_kib'))} | "
                f"{kib(qm.get('guest_ram_rss_kib'))} |",
                f"| total RSS | {kib(ah.get('rss_kib'))} | {kib(qm.get('rss_kib'))} |", "",
                f"Sizes: arrowh {r['binary_sizes']['arrowh'] / 1024:.0f} KiB (static), vmlinux "
                f"{r['binary_sizes']['vmlinux'] / 1048576:.1f} MiB, hello initramfs "
                f"{r['binary_sizes']['initramfs_hello'] / 1024:.0f} KiB.", ""]
        out += density_section(density.get(r["environment"]), docs)
        out += clones_section(clones.get(r["environment"]))
        out += images_section(images.get(r["environment"]))
        lc = lifecycle.get(r["environment"])
        if lc:
            st, ls = lc["start"], lc["listing"]
            out += ["### Managing Arrows (bench/lifecycle.py)", "",
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
            out += [""]
        net = network.get(r["environment"])
        if net:
            w = net["wrk"]
            out += ["### HTTP over the Arrow network (bench/network.py)", "",
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
    out += ["## Targets", "",
            "| target | meaning | " + " | ".join(f"today, {r['environment']}" for r in results) + " |",
            "|---|---|" + "---|" * len(results)]
    mem_row = "| arrowh VMM memory < 2 MiB | resident memory of arrowh excluding guest RAM |"
    rss_row = "| arrowh RSS ≤ 1/10 of QEMU's | VMM memory excluding guest RAM, ratio |"
    boot_row = "| boot to app ≤ 0.25× QEMU microvm | end-to-end median, same kernel and initramfs |"
    for r in results:
        ah = r.get("memory", {}).get("arrowh", {})
        qm = r.get("memory", {}).get("qemu", {})
        a, q = r["end_to_end"]["arrow run"], r["end_to_end"]["qemu microvm"]
        vmm = ah.get("vmm_rss_kib")
        mem_row += f" {kib(vmm)} ({'met' if vmm is not None and vmm < 2048 else 'not met'}) |"
        if vmm and qm.get("vmm_rss_kib"):
            ratio = vmm / qm["vmm_rss_kib"]
            rss_row += f" 1/{1 / ratio:.0f} ({'met' if ratio <= 0.1 else 'not met'}) |"
        else:
            rss_row += " - |"
        ratio = a["median_ms"] / q["median_ms"]
        boot_row += f" {ratio:.2f}× ({'met' if ratio <= 0.25 else 'not met'}) |"
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
    out += [mem_row, rss_row, boot_row, pss_row, clone_row, priv_row, ""]
    out += [
            "## Reproduce by hand", "",
            "```sh",
            "make bench                       # everything above",
            "arrow run --network none --timing build/tests/guest/hello",
            "# where /dev/kvm is kvm-pvm: prefix with  arrow machine --",
            "ARROW_ARROWH=bench/capture-arrowh.sh CAPTURE_INITRAMFS=/tmp/hello.cpio \\",
            "    arrow run --network none build/tests/guest/hello   # the exact initramfs, for QEMU",
            "qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=off,rtc=off,acpi=off \\",
            "    -accel kvm -cpu host -m 128 -nodefaults -no-user-config -display none -no-reboot \\",
            "    -kernel build/lib/arrow/vmlinux -initrd /tmp/hello.cpio \\",
            "    -append 'console=hvc0 quiet panic=-1 no_timer_check tsc=reliable reboot=t' \\",
            "    -device virtio-serial-device,max_ports=5 -chardev null,id=con -device virtconsole,chardev=con \\",
            "    -chardev null,id=in -device virtserialport,chardev=in,name=arrow.stdin \\",
            "    -chardev file,id=out,path=/dev/stdout -device virtserialport,chardev=out,name=arrow.stdout \\",
            "    -chardev null,id=err -device virtserialport,chardev=err,name=arrow.stderr \\",
            "    -chardev null,id=ctl -device virtserialport,chardev=ctl,name=arrow.control",
            "# the same binary natively, and in an OCI bundle (rootfs with only the binary)",
            "build/tests/guest/hello",
            "mkdir -p /tmp/b/rootfs && cp build/tests/guest/hello /tmp/b/rootfs/ && cd /tmp/b && crun spec",
            "#   config.json: process.args [\"/hello\"], terminal false, root.readonly true",
            "crun run --bundle /tmp/b hello1     # runc where crun refuses a hybrid cgroup host",
            "# many idle Arrows (bench/density.py): start 50, read PSS per arrowh",
            "for i in $(seq 50); do arrow run -d --network none build/tests/guest/sigwait; done",
            "for p in $(pgrep -x arrowh); do grep ^Pss: /proc/$p/smaps_rollup; done",
            "# clones (bench/clones.py): a template, then clones of it vs cold boots",
            "arrow template create h --network none build/tests/guest/hello",
            "arrow run --rm --from h; arrow run --rm --network none build/tests/guest/hello",
            "arrow template create idle --network none build/tests/guest/sigwait",
            "for i in $(seq 50); do arrow run -d --network none --from idle; done",
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
            "```", ""]
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("\n".join(out))
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])


if __name__ == "__main__":
    main()
