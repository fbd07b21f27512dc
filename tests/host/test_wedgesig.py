"""scripts/wedgesig.py: the helper VM's wedge address is found from the kernel's bytes, and
nothing matches when it cannot be found (then no failure is forgiven)."""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from wedgesig import post_vmrun_rip  # noqa: E402

BASE = 0xffffffffc0460000  # where the stand-in kcore segment maps
FUNC = 0xffffffffc047dbc0  # __svm_vcpu_run, as in the packaged helper kernel
NEXT = FUNC + 0x2e0        # the next symbol


def kallsyms(tmp_path, lines):
    p = tmp_path / "kallsyms"
    p.write_text("".join(f"{a:016x} {t} {n}\n" for a, t, n in lines))
    return str(p)


def kcore(tmp_path, code_at_func):
    """An ELF64 core with one PT_LOAD segment at BASE holding code_at_func at FUNC."""
    size = 0x20000
    seg = bytearray(b"\xcc" * size)
    seg[FUNC - BASE:FUNC - BASE + len(code_at_func)] = code_at_func
    ehdr = bytearray(64)
    ehdr[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", ehdr, 32, 64)           # e_phoff
    struct.pack_into("<HH", ehdr, 54, 56, 2)       # e_phentsize, e_phnum
    note = struct.pack("<IIQQQQQQ", 4, 0, 0, 0, 0, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 7, 64 + 2 * 56, BASE, 0, size, size, 0x1000)
    p = tmp_path / "kcore"
    p.write_bytes(bytes(ehdr) + note + load + bytes(seg))
    return str(p)


def function(vmrun_at, extra_vmrun=None):
    code = bytearray(b"\x90" * 0x2e0)
    code[vmrun_at:vmrun_at + 3] = b"\x0f\x01\xd8"
    if extra_vmrun is not None:
        code[extra_vmrun:extra_vmrun + 3] = b"\x0f\x01\xd8"
    return bytes(code)


SYMS = [(0, "A", "fixed_percpu_data"),  # per-CPU symbols read as 0 even to root
        (FUNC - 0x100, "t", "svm_vcpu_enter_exit"),
        (FUNC, "t", "__svm_vcpu_run\t[kvm_amd]"),
        (NEXT, "t", "__svm_sev_es_vcpu_run\t[kvm_amd]")]


def test_found_after_vmrun_whatever_the_offset(tmp_path):
    ks = kallsyms(tmp_path, SYMS)
    assert post_vmrun_rip(ks, kcore(tmp_path, function(0x9d))) == FUNC + 0xa0
    assert post_vmrun_rip(ks, kcore(tmp_path, function(0x99))) == FUNC + 0x9c


def test_none_when_it_cannot_be_told(tmp_path):
    ks = kallsyms(tmp_path, SYMS)
    # no vmrun in the function, or two: not the function the signature knows
    assert post_vmrun_rip(ks, kcore(tmp_path, function(0x2e0 - 3)[:0x10])) is None
    assert post_vmrun_rip(ks, kcore(tmp_path, function(0x9d, extra_vmrun=0x150))) is None
    # a vmrun past the function's end (in the next symbol) does not count
    assert post_vmrun_rip(ks, kcore(tmp_path, b"\x90" * 0x2e0 + b"\x0f\x01\xd8")) is None
    # no such symbol; addresses hidden (kptr_restrict); no kcore
    assert post_vmrun_rip(kallsyms(tmp_path, SYMS[:2]), kcore(tmp_path, function(0x9d))) is None
    hidden = [(0, t, n) for _, t, n in SYMS]
    assert post_vmrun_rip(kallsyms(tmp_path, hidden), kcore(tmp_path, function(0x9d))) is None
    assert post_vmrun_rip(ks, str(tmp_path / "missing")) is None
    # an address outside every segment
    far = [(a + 0x100000 if a else 0, t, n) for a, t, n in SYMS]
    assert post_vmrun_rip(kallsyms(tmp_path, far), kcore(tmp_path, function(0x9d))) is None
