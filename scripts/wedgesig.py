"""The helper VM's wedge signature (docs/machine.md, "Peer comparison").

Inside the helper VM (QEMU TCG with emulated AMD SVM) a nested guest sometimes stops making
progress and KVM reports its vCPU at one address for ever: the instruction right after `vmrun`
in the helper kernel's own __svm_vcpu_run (an L1 address, meaningless in any Arrow kernel).
QEMU microvm wedged at the same address under the same stress, which is why a failure showing
it may be retried once (docs/testing.md).

The offset of that instruction inside __svm_vcpu_run depends on how the helper kernel was
built (0x9c for the kernel compiled here until 2026-12-03, 0xa0 for Debian's packaged
6.12.118+deb12-amd64), so it is found, not assumed: the function's address and extent come
from /proc/kallsyms and its bytes from /proc/kcore, searched for the `vmrun` opcode
(0f 01 d8). None when any of that is unavailable (outside the helper VM, not root, no
kcore): then no failure can match the signature and none is forgiven.
"""

import struct

VMRUN = b"\x0f\x01\xd8"
SYMBOL = "__svm_vcpu_run"
MAX_FUNC = 0x400


def _symbol_extent(kallsyms="/proc/kallsyms"):
    """(start, end) of __svm_vcpu_run: end is the lowest symbol address above start."""
    start = None
    addrs = []
    with open(kallsyms) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            addr = int(parts[0], 16)
            addrs.append(addr)
            if parts[2] == SYMBOL:
                start = addr
    if not start:
        return None  # no such symbol, or addresses hidden (kptr_restrict, not root)
    above = [a for a in addrs if a > start]
    end = min(above) if above else start + MAX_FUNC
    return start, min(end, start + MAX_FUNC)


def _read_kcore(addr, size, kcore="/proc/kcore"):
    """size bytes of kernel virtual memory at addr, through /proc/kcore's ELF PT_LOAD
    segments."""
    with open(kcore, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
            return None
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, p_offset, p_vaddr, _, _, p_memsz = struct.unpack("<IIQQQQQ", f.read(48))
            if p_type == 1 and p_vaddr <= addr and addr + size <= p_vaddr + p_memsz:
                f.seek(p_offset + addr - p_vaddr)
                return f.read(size)
    return None


def post_vmrun_rip(kallsyms="/proc/kallsyms", kcore="/proc/kcore"):
    """The address of the instruction after `vmrun` in the running kernel's __svm_vcpu_run,
    as an int, or None."""
    try:
        extent = _symbol_extent(kallsyms)
        if extent is None:
            return None
        start, end = extent
        code = _read_kcore(start, end - start, kcore)
    except (OSError, ValueError, struct.error):
        return None
    if not code:
        return None
    at = code.find(VMRUN)
    if at < 0 or code.find(VMRUN, at + 1) >= 0:
        return None  # no vmrun, or more than one: not the function this signature knows
    return start + at + len(VMRUN)


if __name__ == "__main__":
    rip = post_vmrun_rip()
    print("none" if rip is None else f"0x{rip:x}")
