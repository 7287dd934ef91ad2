//! crashdump OUTPUT.dmp PROGRAM [ARGS...]
//!
//! Runs PROGRAM under ptrace; when it receives a crash signal (SIGSEGV, SIGBUS, SIGILL,
//! SIGFPE, SIGABRT), writes a minidump of the crash to OUTPUT.dmp with minidump-writer,
//! the crate Firefox uses on Linux, the way an out-of-process crash handler does: the
//! crashing thread's registers and signal info become the dump's crash context, then the
//! process is stopped, dumped and killed. Exits 0 once the dump is written, 2 when the
//! program ended without crashing, 1 on any other failure.
//!
//! crashflow's end-to-end test uses it to get a real minidump of a real native crash.

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("crashdump reads the registers of x86-64 Linux");

use std::ffi::CString;
use std::fs::File;
use std::mem::zeroed;
use std::process::exit;

use minidump_writer::crash_context::CrashContext;
use minidump_writer::minidump_writer::MinidumpWriterConfig;
use minidump_writer::CrashContextExt;

const CRASH_SIGNALS: [i32; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT];

fn fail(message: &str) -> ! {
    eprintln!("crashdump: {message}: {}", std::io::Error::last_os_error());
    exit(1);
}

fn ptrace(request: libc::c_uint, pid: libc::pid_t, data: *mut libc::c_void) -> libc::c_long {
    // SAFETY: every request used here takes (pid, addr unused, data).
    unsafe { libc::ptrace(request, pid, std::ptr::null_mut::<libc::c_void>(), data) }
}

fn wait(pid: libc::pid_t, flags: libc::c_int) -> libc::c_int {
    let mut status = 0;
    // SAFETY: status is a valid out pointer.
    if unsafe { libc::waitpid(pid, &mut status, flags) } != pid {
        fail("waitpid");
    }
    status
}

/// Starts PROGRAM as a traced child, stopped at its exec.
fn spawn_traced(program: &[String]) -> libc::pid_t {
    let argv: Vec<CString> = program
        .iter()
        .map(|arg| CString::new(arg.as_bytes()).unwrap_or_else(|_| fail("argument with a NUL byte")))
        .collect();
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|arg| arg.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: the child only calls async-signal-safe functions before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail("fork");
    }
    if pid == 0 {
        unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, std::ptr::null_mut::<libc::c_void>(), std::ptr::null_mut::<libc::c_void>());
            libc::execvp(pointers[0], pointers.as_ptr());
            libc::_exit(127);
        }
    }
    let status = wait(pid, 0);
    if !libc::WIFSTOPPED(status) {
        eprintln!("crashdump: {} did not start", program[0]);
        exit(1);
    }
    // The program dies with us, whatever happens to us.
    ptrace(libc::PTRACE_SETOPTIONS, pid, libc::PTRACE_O_EXITKILL as *mut libc::c_void);
    pid
}

/// Lets the program run until it stops on a crash signal; the signal.
fn run_until_crash(pid: libc::pid_t) -> i32 {
    let mut deliver = 0;
    loop {
        if ptrace(libc::PTRACE_CONT, pid, deliver as *mut libc::c_void) < 0 {
            fail("PTRACE_CONT");
        }
        let status = wait(pid, 0);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            eprintln!("crashdump: the program ended without crashing");
            exit(2);
        }
        let signal = libc::WSTOPSIG(status);
        if CRASH_SIGNALS.contains(&signal) {
            return signal;
        }
        deliver = signal; // not a crash: pass it on
    }
}

/// The crashing thread's state, as a signal handler in the process would have seen it.
fn crash_context(pid: libc::pid_t) -> CrashContext {
    // SAFETY: plain data structures, filled by the kernel or field by field below.
    let (mut siginfo, mut regs, mut fpregs): (libc::siginfo_t, libc::user_regs_struct, libc::user_fpregs_struct) =
        unsafe { (zeroed(), zeroed(), zeroed()) };
    if ptrace(libc::PTRACE_GETSIGINFO, pid, (&mut siginfo as *mut libc::siginfo_t).cast()) < 0 {
        fail("PTRACE_GETSIGINFO");
    }
    if ptrace(libc::PTRACE_GETREGS, pid, (&mut regs as *mut libc::user_regs_struct).cast()) < 0 {
        fail("PTRACE_GETREGS");
    }
    if ptrace(libc::PTRACE_GETFPREGS, pid, (&mut fpregs as *mut libc::user_fpregs_struct).cast()) < 0 {
        fail("PTRACE_GETFPREGS");
    }
    let fault_address = unsafe { siginfo.si_addr() } as u64;

    let mut context: CrashContext = unsafe { zeroed() };
    let gregs = &mut context.context.uc_mcontext.gregs;
    let set = |gregs: &mut [i64; 23], index: libc::c_int, value: u64| gregs[index as usize] = value as i64;
    set(gregs, libc::REG_R8, regs.r8);
    set(gregs, libc::REG_R9, regs.r9);
    set(gregs, libc::REG_R10, regs.r10);
    set(gregs, libc::REG_R11, regs.r11);
    set(gregs, libc::REG_R12, regs.r12);
    set(gregs, libc::REG_R13, regs.r13);
    set(gregs, libc::REG_R14, regs.r14);
    set(gregs, libc::REG_R15, regs.r15);
    set(gregs, libc::REG_RDI, regs.rdi);
    set(gregs, libc::REG_RSI, regs.rsi);
    set(gregs, libc::REG_RBP, regs.rbp);
    set(gregs, libc::REG_RBX, regs.rbx);
    set(gregs, libc::REG_RDX, regs.rdx);
    set(gregs, libc::REG_RAX, regs.rax);
    set(gregs, libc::REG_RCX, regs.rcx);
    set(gregs, libc::REG_RSP, regs.rsp);
    set(gregs, libc::REG_RIP, regs.rip);
    set(gregs, libc::REG_EFL, regs.eflags);
    // The kernel packs cs, gs and fs into one word of the signal context.
    set(gregs, libc::REG_CSGSFS, (regs.cs & 0xffff) | (regs.gs & 0xffff) << 16 | (regs.fs & 0xffff) << 32);
    set(gregs, libc::REG_CR2, fault_address);

    let float = &mut context.float_state;
    float.cwd = fpregs.cwd;
    float.swd = fpregs.swd;
    float.ftw = fpregs.ftw;
    float.fop = fpregs.fop;
    float.rip = fpregs.rip;
    float.rdp = fpregs.rdp;
    float.mxcsr = fpregs.mxcsr;
    float.mxcr_mask = fpregs.mxcr_mask;
    float.st_space = fpregs.st_space;
    float.xmm_space = fpregs.xmm_space;

    let info = &mut context.siginfo;
    info.ssi_signo = siginfo.si_signo as u32;
    info.ssi_errno = siginfo.si_errno;
    info.ssi_code = siginfo.si_code;
    info.ssi_addr = fault_address;
    context.pid = pid;
    context.tid = pid;
    context
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: crashdump OUTPUT.dmp PROGRAM [ARGS...]");
        exit(1);
    }
    let output = &args[1];
    let pid = spawn_traced(&args[2..]);
    let signal = run_until_crash(pid);
    let context = crash_context(pid);

    // minidump-writer attaches to every thread itself: let go of the program, leaving it
    // stopped (SIGSTOP instead of the crash signal) with its state as it crashed.
    if ptrace(libc::PTRACE_DETACH, pid, libc::SIGSTOP as *mut libc::c_void) < 0 {
        fail("PTRACE_DETACH");
    }
    let status = wait(pid, libc::WUNTRACED);
    if !libc::WIFSTOPPED(status) {
        eprintln!("crashdump: the program did not stop after its crash");
        exit(1);
    }

    let mut file = File::create(output).unwrap_or_else(|_| fail("cannot create the output file"));
    let mut config = MinidumpWriterConfig::new(pid, pid);
    config.set_crash_context(CrashContextExt { inner: context });
    let written = config.write(&mut file);
    // SAFETY: pid is our child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    match written {
        Ok(bytes) => println!("{output}: minidump of signal {signal}, {} bytes", bytes.len()),
        Err(error) => {
            eprintln!("crashdump: minidump-writer failed: {error}");
            exit(1);
        }
    }
}
