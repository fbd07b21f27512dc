"""QEMU microvm as the peer VMM: the one command line that boots the same vmlinux and the same
initramfs bytes arrowh boots (captured from `arrow run`, bench/capture-arrowh.sh), with the
virtio-console ports ainit expects. Used by bench/boot.py, bench/wedge.py and the test
harness's canary (scripts/canary.py), so that every comparison runs the same peer.
"""
import struct

# The kernel command line both VMMs give the guest (arrowh: src/vmm/setup.c); QEMU adds
# reboot=t because it has no i8042 reset line.
CMDLINE = "console=hvc0 quiet panic=-1 no_timer_check tsc=reliable"
CTL_MAGIC = 0x41525257
CTL_RECORDS = {1: "hello", 2: "exec", 3: "exit", 4: "template"}


def qemu_cmd(kernel, initramfs, out, ctl, mem_mib=128, cpus=1, ctl_socket=False, qmp=None,
             paused=False):
    """argv for QEMU -M microvm. stdout goes to the file out; the control port to the file
    ctl, or with ctl_socket to the unix socket ctl (QEMU connects to it)."""
    ctl_dev = f"socket,id=ctl,path={ctl}" if ctl_socket else f"file,id=ctl,path={ctl}"
    cmd = ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=off,rtc=off,acpi=off",
           "-accel", "kvm", "-cpu", "host", "-m", str(mem_mib), "-smp", str(cpus),
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-kernel", kernel, "-initrd", initramfs, "-append", CMDLINE + " reboot=t",
           "-device", "virtio-serial-device,max_ports=5",
           "-chardev", "null,id=con", "-device", "virtconsole,chardev=con",
           "-chardev", "null,id=in", "-device", "virtserialport,chardev=in,name=arrow.stdin",
           "-chardev", f"file,id=out,path={out}",
           "-device", "virtserialport,chardev=out,name=arrow.stdout",
           "-chardev", "null,id=err", "-device", "virtserialport,chardev=err,name=arrow.stderr",
           "-chardev", ctl_dev, "-device", "virtserialport,chardev=ctl,name=arrow.control"]
    if qmp:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    if paused:
        cmd += ["-S"]
    return cmd


def control_records(data):
    """(name, arg, value) of every ainit control record in a control-port capture."""
    out = []
    for off in range(0, len(data) - 23, 24):
        magic, typ, _, arg, _, value = struct.unpack_from("<IHHIIQ", data, off)
        if magic == CTL_MAGIC:
            out.append((CTL_RECORDS.get(typ, str(typ)), arg, value))
    return out
