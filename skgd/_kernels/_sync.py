"""Atomic flags for threads of one parallel region to wait on each other.

Numba has no atomics for CPU code; these intrinsics emit LLVM's atomic loads, stores,
fetch-add and compare-exchange on an int64 array element, the x86 ``pause`` hint in a
spin and ``sched_yield`` once a wait is long. Used by :mod:`._region`.
"""

import os
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
_POSIX = os.name == "posix"  # sched_yield is POSIX; elsewhere a long wait keeps spinning
# Spins with ``pause`` (~40-140 cycles each) before a waiting thread yields its core to
# others at every further check: a batch's work takes microseconds, a descheduled
# thread's absence milliseconds.
SPINS_BEFORE_YIELD = 2000


def _int64_slot(arr, idx):
    return (isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype == types.int64
            and isinstance(idx, types.Integer))


def _slot_pointer(context, builder, aryty, arr, idx):
    ary = context.make_array(aryty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [idx], wraparound=False,
                                    boundscheck=False)


@intrinsic
def load_acquire(typingctx, arr, idx):
    """``arr[idx]`` read with acquire order: later reads see what its writer wrote
    before its release store."""
    if not _int64_slot(arr, idx):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)
    return types.int64(arr, idx), codegen


@intrinsic
def store_release(typingctx, arr, idx, val):
    """``arr[idx] = val`` with release order (after every earlier write)."""
    if not _int64_slot(arr, idx):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(value, ptr, "release", 8)
        return context.get_dummy_value()
    return types.void(arr, idx, val), codegen


@intrinsic
def fetch_add(typingctx, arr, idx, val):
    """Atomically ``arr[idx] += val``; returns the value before."""
    if not _int64_slot(arr, idx):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, value, "seq_cst")
    return types.int64(arr, idx, val), codegen


@intrinsic
def compare_exchange(typingctx, arr, idx, expected, new):
    """Atomically set ``arr[idx] = new`` if it equals ``expected``; returns the value
    found (``expected`` when the exchange happened)."""
    if not _int64_slot(arr, idx):
        return None

    def codegen(context, builder, sig, args):
        ptr = _slot_pointer(context, builder, sig.args[0], args[0], args[1])
        exp = context.cast(builder, args[2], sig.args[2], types.int64)
        new_ = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(ptr, exp, new_, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)
    return types.int64(arr, idx, expected, new), codegen


def _call_without_arguments(symbol, return_type, available):
    """An intrinsic calling the argument-free function ``symbol`` (an LLVM intrinsic or
    a C library function) where ``available``, doing nothing elsewhere."""
    @intrinsic
    def call(typingctx):
        def codegen(context, builder, sig, args):
            if available:
                fn = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(return_type, []), symbol)
                builder.call(fn, [])
            return context.get_dummy_value()
        return types.void(), codegen
    return call


_pause = _call_without_arguments("llvm.x86.sse2.pause", ir.VoidType(), _X86)
_yield_core = _call_without_arguments("sched_yield", ir.IntType(32), _POSIX)


@njit(inline="always")
def spin(count):
    """One wait step of a spinning thread that has checked ``count`` times so far."""
    if count < SPINS_BEFORE_YIELD:
        _pause()
    else:
        _yield_core()
