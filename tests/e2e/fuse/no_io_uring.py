#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs a command under a seccomp filter that fails io_uring_setup with
ENOSYS, as the default seccomp profiles of container runtimes can do.

Usage: no_io_uring.py COMMAND [ARG...]   (x86_64 only)
"""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
NR_IO_URING_SETUP = 425
ENOSYS = 38
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06

# struct sock_filter: u16 code, u8 jt, u8 jf, u32 k.
PROGRAM = [
    (BPF_LD_W_ABS, 0, 0, 4),                      # seccomp_data.arch
    (BPF_JEQ_K, 0, 3, AUDIT_ARCH_X86_64),         # other arch: allow
    (BPF_LD_W_ABS, 0, 0, 0),                      # seccomp_data.nr
    (BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP),
    (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),
    (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
]


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: no_io_uring.py COMMAND [ARG...]")
    if os.uname().machine != "x86_64":
        sys.exit("no_io_uring.py: only x86_64 is supported")
    code = b"".join(struct.pack("HBBI", *insn) for insn in PROGRAM)
    filters = ctypes.create_string_buffer(code, len(code))
    # struct sock_fprog: u16 len, padding, pointer to the instructions.
    fprog = struct.pack("HxxxxxxP", len(PROGRAM), ctypes.addressof(filters))
    fprog_buf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("no_io_uring.py: PR_SET_NO_NEW_PRIVS failed: "
                 + os.strerror(ctypes.get_errno()))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                  ctypes.addressof(fprog_buf), 0, 0) != 0:
        sys.exit("no_io_uring.py: installing the seccomp filter failed: "
                 + os.strerror(ctypes.get_errno()))
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
