"""Crash reasons explained in words (what the stackwalker's ``crash_info.type`` means).

Reasons are matched by their first word(s): ``EXCEPTION_ACCESS_VIOLATION_READ`` and
``SIGSEGV /SEGV_MAPERR`` alike. Where a reason has a sub-code, the longer key wins.
"""

from __future__ import annotations

REASONS = {
    # Windows
    "EXCEPTION_ACCESS_VIOLATION_READ": "The program read memory it may not access: often a null, freed or "
                                       "corrupted pointer.",
    "EXCEPTION_ACCESS_VIOLATION_WRITE": "The program wrote to memory it may not access: often a null, freed or "
                                        "corrupted pointer.",
    "EXCEPTION_ACCESS_VIOLATION_EXEC": "The program jumped to memory that holds no code: a corrupted function "
                                       "pointer or return address, or an unloaded module.",
    "EXCEPTION_ACCESS_VIOLATION": "The program touched memory it may not access.",
    "EXCEPTION_STACK_OVERFLOW": "The thread ran out of stack, usually through unbounded recursion.",
    "EXCEPTION_BREAKPOINT": "The program hit a breakpoint instruction: usually a deliberate crash on a failed "
                            "assertion.",
    "EXCEPTION_ILLEGAL_INSTRUCTION": "The processor met an instruction it cannot run: corrupted code, a jump "
                                     "into data, or an instruction this CPU lacks.",
    "EXCEPTION_PRIV_INSTRUCTION": "The program ran an instruction reserved to the operating system.",
    "EXCEPTION_INT_DIVIDE_BY_ZERO": "An integer was divided by zero.",
    "EXCEPTION_FLT_DIVIDE_BY_ZERO": "A floating-point number was divided by zero with that exception enabled.",
    "EXCEPTION_IN_PAGE_ERROR": "Memory backed by a file could not be read in: a failing disk, a network "
                               "drive that went away, or a file changed underneath.",
    "EXCEPTION_HEAP_CORRUPTION": "The heap manager found its data corrupted: a buffer overrun or a double free "
                                 "somewhere earlier.",
    "STATUS_HEAP_CORRUPTION": "The heap manager found its data corrupted: a buffer overrun or a double free "
                              "somewhere earlier.",
    "STATUS_STACK_BUFFER_OVERRUN": "A security check failed (a stack cookie, /GS, or a fast-fail): the program "
                                   "stopped itself on detecting corrupted memory.",
    "STATUS_FATAL_APP_EXIT": "The program ended itself through a fatal-exit call (abort and the like).",
    "EXCEPTION_INVALID_HANDLE": "A handle that is not open (closed twice, or never valid) was used.",
    "STATUS_NO_MEMORY": "An allocation failed: the process ran out of memory or address space.",
    "EXCEPTION_NONCONTINUABLE_EXCEPTION": "The program tried to go on after an exception that does not allow it.",
    "OOM": "The program ran out of memory.",
    # POSIX signals (Linux, Android, macOS)
    "SIGSEGV": "The program touched memory it may not access (segmentation fault): often a null, freed or "
               "corrupted pointer.",
    "SIGBUS": "A memory access the hardware cannot do: a misaligned access, or a mapped file that shrank.",
    "SIGABRT": "The program ended itself (abort): usually a failed assertion or a fatal error it detected.",
    "SIGILL": "The processor met an instruction it cannot run: corrupted code, or a deliberate trap.",
    "SIGFPE": "An arithmetic error, such as an integer division by zero.",
    "SIGTRAP": "A trap instruction: usually a deliberate crash on a failed check.",
    "SIGSYS": "A system call that the process's sandbox does not allow.",
    "SIGKILL": "The process was killed from outside (out of memory, a watchdog, or the user).",
    # macOS Mach exceptions
    "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS": "The program touched an address with nothing mapped there: often a "
                                             "null, freed or corrupted pointer.",
    "EXC_BAD_ACCESS / KERN_PROTECTION_FAILURE": "The program accessed memory in a way it may not, such as "
                                                "writing to read-only memory.",
    "EXC_BAD_ACCESS": "The program touched memory it may not access.",
    "EXC_BAD_INSTRUCTION": "The processor met an instruction it cannot run: often a deliberate trap on a "
                           "failed check (Swift and Rust do this).",
    "EXC_BREAKPOINT": "The program hit a trap: usually a deliberate crash on a failed check.",
    "EXC_ARITHMETIC": "An arithmetic error, such as an integer division by zero.",
    "EXC_CRASH": "The process ended through a signal such as SIGABRT.",
    "EXC_RESOURCE": "The process used more of a resource (memory, CPU, wake-ups) than the system allows.",
    "EXC_GUARD": "The process misused a guarded resource, such as closing a file descriptor it does not own.",
}
# Below this an address is in the never-mapped first pages: a null pointer (plus a field offset).
NULL_PAGE_LIMIT = 0x10000


def explain_reason(reason: str | None) -> str:
    """Words for a crash reason; "" when there are none."""
    if not reason:
        return ""
    text = reason.strip()
    candidates = [key for key in REASONS if text == key or text.startswith((key + " ", key + "/", key + "_"))]
    if not candidates:
        return ""
    return REASONS[max(candidates, key=len)]


def explain_address(address: str | None, reason: str | None) -> str:
    """A note on the crash address: memory errors near zero are null pointers."""
    if not address or not reason or not any(word in reason for word in ("ACCESS", "SEGV", "BAD_ACCESS", "SIGBUS")):
        return ""
    try:
        value = int(address, 16)
    except ValueError:
        return ""
    if value < NULL_PAGE_LIMIT:
        return "A null pointer (plus an offset into what it should point to)."
    return ""
