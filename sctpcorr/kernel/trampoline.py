"""BPF trampolines (fentry/fexit) on functions of kernel *modules* (sctp.ko), for BCC 0.26.

Why this exists: Debian 12's BCC (0.26, python3-bpfcc) looks up the attach BTF id of a KFUNC_PROBE in vmlinux
BTF only (bcc issue 4585), so it cannot put an fentry/fexit program on a function of a module.  The work-around:

1. compile the C with BCC as usual (``bcc.BPF(text=..., cflags=...)``): BCC creates the maps and writes their fds
   into the bytecode (ld_imm64 BPF_PSEUDO_MAP_FD), so the bytecode is self-contained;
2. take one function's bytecode with ``bpf.dump_func(name)`` (the function is NOT loaded by BCC);
3. load it ourselves through the system libbpf (``libbpf.so.1``, Debian's libbpf1 1.1) as a
   BPF_PROG_TYPE_TRACING program with expected_attach_type BPF_TRACE_FENTRY/FEXIT, attach_btf_id = the id of
   the FUNC in the module's split BTF (/sys/kernel/btf/<module>) and attach_btf_obj_fd = an fd of the module's
   BTF object (found by walking the kernel's BTF objects by id and matching the name);
4. attach with ``bpf_raw_tracepoint_open(NULL, prog_fd)``, which returns a link fd; closing it detaches.

The C side: a trampoline program is ``int name(u64 *ctx)``; ``ctx[0]``, ``ctx[1]``... are the traced function's
arguments (as 64-bit slots), and in an fexit program ``ctx[nargs]`` is its return value (void function: do not
use it).  The verifier rejects ``ctx[i]`` for i beyond the prototype (BTF) of the function, so the argument count
must be right (``func_arg_count``).  Pointer arguments come typed (PTR_TO_BTF_ID); reading through them with
``bpf_probe_read_kernel`` works like in a kprobe.  Programs load without program BTF (BCC gives none).

Standard library only (ctypes); importing needs neither root nor libbpf: everything is resolved on first use.

    from sctpcorr.kernel import trampoline
    ok, why = trampoline.available("sctp", "sctp_transport_update_rto")
    link = trampoline.attach(bpf, "fe_update_rto", "sctp", "sctp_transport_update_rto", "fentry")
    ...   # /proc/self/fdinfo/<link.prog_fd> has run_cnt/run_time_ns when kernel.bpf_stats_enabled=1
    link.close()
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
from pathlib import Path

__all__ = ["TrampolineError", "TrampolineLink", "attach", "available", "func_arg_count", "func_btf_id",
           "load", "module_btf_fd"]

BTF_DIR = Path("/sys/kernel/btf")

BPF_PROG_TYPE_TRACING = 26
BPF_TRACE_FENTRY = 24
BPF_TRACE_FEXIT = 25
KINDS = {"fentry": BPF_TRACE_FENTRY, "fexit": BPF_TRACE_FEXIT}
BTF_KIND_FUNC = 12
BTF_KIND_FUNC_PROTO = 13
BPF_INSN_SIZE = 8
LOG_SIZE = 4 << 20     # verifier log buffer (only filled on a failed load: libbpf retries with log_level 1)
LOG_TAIL_LINES = 25


class TrampolineError(RuntimeError):
    """A trampoline cannot be loaded or attached; the message says why (with the verifier log tail if any)."""


class _ProgLoadOpts(ctypes.Structure):
    """struct bpf_prog_load_opts of libbpf 1.1 (src/bpf.h, v1.1.0-v1.1.2): 104 bytes on x86-64, ``sz`` first.
    libbpf reads only the first ``sz`` bytes, so this also works with newer libbpf (which appends fields)."""
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("attempts", ctypes.c_int),
        ("expected_attach_type", ctypes.c_uint),     # enum bpf_attach_type
        ("prog_btf_fd", ctypes.c_uint32),
        ("prog_flags", ctypes.c_uint32),
        ("prog_ifindex", ctypes.c_uint32),
        ("kern_version", ctypes.c_uint32),
        ("attach_btf_id", ctypes.c_uint32),
        ("attach_prog_fd", ctypes.c_uint32),
        ("attach_btf_obj_fd", ctypes.c_uint32),
        ("fd_array", ctypes.c_void_p),
        ("func_info", ctypes.c_void_p),
        ("func_info_cnt", ctypes.c_uint32),
        ("func_info_rec_size", ctypes.c_uint32),
        ("line_info", ctypes.c_void_p),
        ("line_info_cnt", ctypes.c_uint32),
        ("line_info_rec_size", ctypes.c_uint32),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_void_p),
    ]


class _BtfInfo(ctypes.Structure):
    """struct bpf_btf_info (uapi linux/bpf.h, 5.11+): 32 bytes, 8-aligned."""
    _fields_ = [
        ("btf", ctypes.c_uint64),
        ("btf_size", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("name", ctypes.c_uint64),
        ("name_len", ctypes.c_uint32),
        ("kernel_btf", ctypes.c_uint32),
    ]


class _BtfType(ctypes.Structure):
    """struct btf_type (uapi linux/btf.h): name_off, info (vlen in bits 0-15, kind in 24-28), size/type."""
    _fields_ = [("name_off", ctypes.c_uint32), ("info", ctypes.c_uint32), ("size_or_type", ctypes.c_uint32)]


assert ctypes.sizeof(_ProgLoadOpts) == 104 and ctypes.sizeof(_BtfInfo) == 32


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    """The system libbpf (1.x), with the prototypes used here; TrampolineError if absent."""
    names = ["libbpf.so.1"]
    found = ctypes.util.find_library("bpf")
    if found and found not in names:
        names.append(found)
    lib = None
    for n in names:
        try:
            lib = ctypes.CDLL(n, use_errno=True)
            break
        except OSError:
            continue
    if lib is None:
        raise TrampolineError("libbpf.so.1 not found (install libbpf1)")
    try:
        vp, u32, i, p = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.POINTER
        for name, res, args in (
                ("bpf_prog_load", i, [i, ctypes.c_char_p, ctypes.c_char_p, vp, ctypes.c_size_t,
                                      p(_ProgLoadOpts)]),
                ("bpf_raw_tracepoint_open", i, [ctypes.c_char_p, i]),
                ("bpf_btf_get_next_id", i, [u32, p(u32)]),
                ("bpf_btf_get_fd_by_id", i, [u32]),
                ("bpf_obj_get_info_by_fd", i, [i, vp, p(u32)]),
                ("btf__load_vmlinux_btf", vp, []),
                ("btf__parse_split", vp, [ctypes.c_char_p, vp]),
                ("btf__find_by_name_kind", ctypes.c_int32, [vp, ctypes.c_char_p, u32]),
                ("btf__type_by_id", p(_BtfType), [vp, u32]),
                ("btf__free", None, [vp])):
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
    except AttributeError as e:
        raise TrampolineError(f"libbpf too old (needs 1.x with bpf_prog_load opts): {e}") from None
    return lib


def _err(rc: int) -> int:
    """libbpf 1.x returns -errno; fall back to errno for a plain -1."""
    return -rc if rc < -1 else (ctypes.get_errno() or errno.EINVAL)


def module_btf_fd(module: str) -> int:
    """A new fd of the kernel BTF object named ``module`` ("vmlinux", "sctp", ...); the caller closes it.
    Needs CAP_SYS_ADMIN; TrampolineError if no such object (module not loaded, or no CONFIG_DEBUG_INFO_BTF_MODULES)."""
    lib = _lib()
    cur = ctypes.c_uint32(0)
    name = ctypes.create_string_buffer(64)
    while True:
        rc = lib.bpf_btf_get_next_id(cur.value, ctypes.byref(cur))
        if rc:
            e = _err(rc)
            if e == errno.ENOENT:
                raise TrampolineError(f"no kernel BTF object named {module!r} (is the module loaded?)")
            raise TrampolineError(f"walking BTF objects: {os.strerror(e)}")
        fd = lib.bpf_btf_get_fd_by_id(cur.value)
        if fd < 0:
            e = _err(fd)
            if e == errno.ENOENT:       # unloaded meanwhile
                continue
            raise TrampolineError(f"opening BTF object {cur.value}: {os.strerror(e)}")
        info = _BtfInfo(name=ctypes.addressof(name), name_len=ctypes.sizeof(name))
        ilen = ctypes.c_uint32(ctypes.sizeof(info))
        rc = lib.bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(ilen))
        if rc == 0 and info.kernel_btf and name.value.decode(errors="replace") == module:
            return fd
        os.close(fd)


@functools.lru_cache(maxsize=None)
def _btf(module: str) -> int:
    """libbpf ``struct btf *`` of a kernel BTF (vmlinux, or a module's split BTF on top of it); kept for the
    life of the process (parsing vmlinux BTF takes a while under emulation)."""
    lib = _lib()
    base = lib.btf__load_vmlinux_btf()
    if not base:
        raise TrampolineError(f"cannot read vmlinux BTF ({os.strerror(ctypes.get_errno())}); kernel without "
                              f"CONFIG_DEBUG_INFO_BTF?")
    if module == "vmlinux":
        return base
    path = BTF_DIR / module
    if not path.exists():
        raise TrampolineError(f"no BTF for module {module!r} ({path} absent: module not loaded, or kernel "
                              f"without CONFIG_DEBUG_INFO_BTF_MODULES)")
    btf = lib.btf__parse_split(str(path).encode(), base)
    if not btf:
        raise TrampolineError(f"cannot parse {path}: {os.strerror(ctypes.get_errno())}")
    return btf


def func_btf_id(module: str, func: str) -> int | None:
    """BTF id of FUNC ``func`` in ``module``'s BTF (ids of a module's split BTF continue after vmlinux's), or
    None if the BTF has no such function (inlined, static and dropped, or not in that module).  Raises
    TrampolineError when the BTF itself cannot be read."""
    r = _lib().btf__find_by_name_kind(_btf(module), func.encode(), BTF_KIND_FUNC)
    return r if r > 0 else None


def func_arg_count(module: str, func: str) -> tuple[int, bool] | None:
    """(number of arguments, returns void?) of ``func`` per its BTF prototype, or None if not in the BTF."""
    tid = func_btf_id(module, func)
    if tid is None:
        return None
    lib = _lib()
    fn = lib.btf__type_by_id(_btf(module), tid).contents
    proto = lib.btf__type_by_id(_btf(module), fn.size_or_type).contents
    if (proto.info >> 24) & 0x1f != BTF_KIND_FUNC_PROTO:
        raise TrampolineError(f"BTF FUNC {func} does not point to a FUNC_PROTO")
    return proto.info & 0xffff, proto.size_or_type == 0


def _kernel_has_trampolines() -> bool | None:
    """Whether the kernel was built with BPF trampolines (x86-64: arch_prepare_bpf_trampoline); None if unknown.
    /proc/kallsyms lists names for everyone (addresses hidden unless root)."""
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                if line.endswith(" arch_prepare_bpf_trampoline\n"):
                    return True
        return False
    except OSError:
        return None


def _ftrace_traceable(module: str, func: str) -> bool | None:
    """Whether ftrace can patch ``func`` (a trampoline needs its fentry call site); None if unknown (not root)."""
    want = f"{func} [{module}]" if module != "vmlinux" else func
    for p in ("/sys/kernel/tracing/available_filter_functions",
              "/sys/kernel/debug/tracing/available_filter_functions"):
        try:
            with open(p) as f:
                return any(line.rstrip("\n") == want for line in f)
        except OSError:
            continue
    return None


def available(module: str, func: str) -> tuple[bool, str]:
    """(True, "") if an fentry/fexit on ``func`` of ``module`` should load here, else (False, one-line reason).
    Does not load anything; the final word is the kernel's (``attach`` raises with the verifier log)."""
    try:
        _lib()
    except TrampolineError as e:
        return False, str(e)
    if _kernel_has_trampolines() is False:
        return False, "kernel without BPF trampolines (no arch_prepare_bpf_trampoline)"
    try:
        args = func_arg_count(module, func)
    except TrampolineError as e:
        return False, str(e)
    if args is None:
        return False, f"{func} is not in the BTF of {module} (inlined or not a function of it)"
    if args[0] > 6:
        return False, f"{func} has {args[0]} arguments; x86-64 trampolines take at most 6 on 6.1"
    if _ftrace_traceable(module, func) is False:
        return False, f"{func} is not in available_filter_functions (notrace or inlined)"
    return True, ""


class TrampolineLink:
    """One loaded and attached fentry/fexit program: ``prog_fd`` (for /proc/self/fdinfo: run_cnt, run_time_ns),
    ``link_fd``; ``close()`` (or leaving a ``with`` block) detaches and unloads."""

    def __init__(self, prog_fd: int, link_fd: int, name: str, module: str, func: str, kind: str):
        self.prog_fd, self.link_fd = prog_fd, link_fd
        self.name, self.module, self.func, self.kind = name, module, func, kind

    def stats(self) -> dict[str, int]:
        """run_cnt, run_time_ns (and recursion_misses, kernel 5.12+) from fdinfo; zeros unless
        kernel.bpf_stats_enabled=1 while it ran."""
        out = {}
        try:
            for line in Path(f"/proc/self/fdinfo/{self.prog_fd}").read_text().splitlines():
                k, _, v = line.partition(":")
                if k in ("run_cnt", "run_time_ns", "recursion_misses", "prog_id"):
                    out[k] = int(v.strip())
        except (OSError, ValueError):
            pass
        return out

    def close(self) -> None:
        for attr in ("link_fd", "prog_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, -1)

    @property
    def closed(self) -> bool:
        return self.prog_fd < 0

    def __enter__(self) -> "TrampolineLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (f"TrampolineLink({self.kind} {self.module}:{self.func} <- {self.name}, prog_fd={self.prog_fd}, "
                f"link_fd={self.link_fd})")


def _log_tail(buf: ctypes.Array, n: int = LOG_TAIL_LINES) -> str:
    text = buf.value.decode(errors="replace").strip()
    if not text:
        return ""
    lines = text.splitlines()
    return "\n".join(lines[-n:])


def load(insns: bytes, name: str, module: str, func: str, kind: str) -> int:
    """Load bytecode ``insns`` (struct bpf_insn array, maps already as fds) as an fentry/fexit program on
    ``func`` of ``module``; returns the program fd (not attached).  TrampolineError with the verifier log tail."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    if not insns or len(insns) % BPF_INSN_SIZE:
        raise TrampolineError(f"{name}: bytecode of {len(insns)} bytes is not a whole number of instructions")
    lib = _lib()
    tid = func_btf_id(module, func)
    if tid is None:
        raise TrampolineError(f"{func} is not in the BTF of {module}")
    obj_fd = module_btf_fd(module) if module != "vmlinux" else 0
    try:
        log = ctypes.create_string_buffer(LOG_SIZE)
        code = ctypes.create_string_buffer(insns, len(insns))
        opts = _ProgLoadOpts(sz=ctypes.sizeof(_ProgLoadOpts), expected_attach_type=KINDS[kind],
                             attach_btf_id=tid, attach_btf_obj_fd=obj_fd, log_level=0,  # 0: log on failure only
                             log_size=LOG_SIZE, log_buf=ctypes.addressof(log))
        # kernel program names: at most 15 characters of [A-Za-z0-9_.]
        pname = "".join(c if c.isalnum() or c in "_." else "_" for c in name)[:15]
        fd = lib.bpf_prog_load(BPF_PROG_TYPE_TRACING, pname.encode(), b"GPL", code,
                               len(insns) // BPF_INSN_SIZE, ctypes.byref(opts))
    finally:
        if obj_fd > 0:
            os.close(obj_fd)   # the loaded program holds its own reference to the module BTF
    if fd < 0:
        e = _err(fd)
        tail = _log_tail(log)
        raise TrampolineError(f"loading {name} as {kind} on {module}:{func} (btf id {tid}) failed: "
                              f"{os.strerror(e)}" + (f"\nverifier log (tail):\n{tail}" if tail else ""))
    return fd


def attach(bpf, fn_name: str, module: str, func: str, kind: str) -> TrampolineLink:
    """Load BCC function ``fn_name`` of the compiled ``bpf`` (a bcc.BPF) as ``kind`` ("fentry"/"fexit") on
    ``func`` of ``module`` and attach it.  Returns a TrampolineLink (close() detaches).  Needs root."""
    insns = bpf.dump_func(fn_name)
    prog_fd = load(insns, fn_name, module, func, kind)
    link_fd = _lib().bpf_raw_tracepoint_open(None, prog_fd)
    if link_fd < 0:
        e = _err(link_fd)
        os.close(prog_fd)
        raise TrampolineError(f"attaching {fn_name} ({kind}) to {module}:{func} failed: {os.strerror(e)}")
    return TrampolineLink(prog_fd, link_fd, fn_name, module, func, kind)
