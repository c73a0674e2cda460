/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * svmd's seccomp allow-list. Everything not listed traps: a SIGSYS handler writes one line
 * naming the system call (and the ioctl request) to stderr and makes the call return EPERM, so
 * a refusal is visible in the log yet never kills the daemon. The list is what the loop needs:
 * epoll and sockets (AF_UNIX only), reading policy files and /proc on reload and at connect,
 * pidfds, socket pairs for leases, memory, time, and the journal and notify sockets.
 */
#include <errno.h>
#include <linux/ioctl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#include "cleanup.h"
#include "log.h"
#include "sandbox.h"

static const char *const allowed[] = {
	/* the loop */
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"epoll_ctl",
	"poll",
	"ppoll",
	/* sockets and fds */
	"read",
	"readv",
	"pread64",
	"write",
	"pwrite64", /* the simulated kernel's state, for a restart */
	"writev",
	"recvmsg",
	"sendmsg",
	"recvfrom",
	"sendto",
	"accept4",
	"connect",
	"shutdown",
	"getsockopt",
	"setsockopt",
	"getsockname",
	"getpeername",
	"close",
	"fcntl",
	"dup",
	"dup3",
	"pipe2",
	"memfd_create",
	"pidfd_open",
	/* files: policy reloads, /proc at connect */
	"openat",
	"newfstatat",
	"fstat",
	"statx",
	"lseek",
	"getdents64",
	"readlinkat",
	"readlink",
	"fstatfs", /* is the fd a map sends a memfd? */
	"faccessat",
	"faccessat2",
	/* the socket file we made goes when we go; the state directory's files are replaced
	 * whole */
	"unlink",
	"unlinkat",
	"rename",
	"renameat",
	"renameat2",
	"fdatasync",
	"access",
	/* memory */
	"mmap",
	"munmap",
	"mremap",
	"brk",
	"madvise",
	"mprotect",
	/* signals, time, identity */
	"rt_sigreturn",
	"rt_sigprocmask",
	"rt_sigaction",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"getrandom",
	"sysinfo", /* glibc's qsort() sizes its buffer by the machine's memory */
	"restart_syscall",
	"getpid",
	"gettid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getresuid",
	"getresgid",
	"getgroups",
	"uname",
	/* the end */
	"futex",
	"exit",
	"exit_group",
};

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds only (make asan): LeakSanitizer stops the process with a ptrace()d helper
 * at exit and reads /proc; release builds never allow these. */
static const char *const sanitizer_allowed[] = {
	"prctl",
	"clone",
	"clone3",
	"ptrace",
	"wait4",
	"waitid",
	"sched_yield",
	"sigaltstack",
	"getppid",
	"kill",
	"tgkill",
	"nanosleep",
	"clock_nanosleep",
	"sched_getaffinity",
	"setrlimit",
	"getrlimit",
	"prlimit64",
	"process_vm_readv",
	/* the leak checker's thread lister reads /proc/PID/task with the legacy calls */
	"open",
	"getdents",
};
#endif

/* ioctls any process makes: stdio asks whether stderr is a terminal; sockets' queue size. */
static const unsigned long common_ioctls[] = {TCGETS, FIONREAD};

/* Appends s to buf at *n (async-signal-safe). */
static void put(char *buf, size_t size, size_t *n, const char *s)
{
	while (*s && *n + 1 < size)
		buf[(*n)++] = *s++;
}

/* Appends v in base 10 or 16 (async-signal-safe). */
static void put_num(char *buf, size_t size, size_t *n, unsigned long v, unsigned base)
{
	char digits[24];
	size_t k = 0;

	do {
		digits[k++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && k < sizeof(digits));
	while (k && *n + 1 < size)
		buf[(*n)++] = digits[--k];
}

static void on_sigsys(int sig, siginfo_t *info, void *context)
{
	int saved = errno;
	ucontext_t *uc = context;
	char buf[160];
	unsigned long request = 0;
	size_t n = 0;
	(void)sig;
#if defined(__x86_64__)
	request = (unsigned long)uc->uc_mcontext.gregs[REG_RSI];
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	request = (unsigned long)uc->uc_mcontext.regs[1];
	uc->uc_mcontext.regs[0] = (unsigned long)-EPERM;
#else
	(void)uc;
#endif
	if (info->si_syscall == SCMP_SYS(ioctl)) {
		put(buf, sizeof(buf), &n, "svmd: seccomp: refused ioctl request 0x");
		put_num(buf, sizeof(buf), &n, request, 16);
	} else {
		put(buf, sizeof(buf), &n, "svmd: seccomp: refused system call ");
		put_num(buf, sizeof(buf), &n, (unsigned long)info->si_syscall, 10);
	}
	put(buf, sizeof(buf), &n, " (returned EPERM)\n");
	(void)!write(STDERR_FILENO, buf, n);
	errno = saved;
}

static int build(scmp_filter_ctx *ret, const unsigned long *ioctls, size_t n_ioctls)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(allowed); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		/* Names this architecture does not have (e.g. open on arm64) are skipped. */
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
#if defined(__SANITIZE_ADDRESS__)
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(sanitizer_allowed); i++) {
		int nr = seccomp_syscall_resolve_name(sanitizer_allowed[i]);
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
#endif
	/* Sockets: AF_UNIX only (the journal, sd_notify; a lease's pair); nothing else is ever
	 * needed. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(common_ioctls) + n_ioctls; i++) {
		unsigned long req = i < ELEMENTSOF(common_ioctls)
					    ? common_ioctls[i]
					    : ioctls[i - ELEMENTSOF(common_ioctls)];
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req));
	}
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int sandbox_enter(const unsigned long *ioctls, size_t n)
{
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	scmp_filter_ctx ctx;
	int r;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	r = build(&ctx, ioctls, n);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

int sandbox_print(FILE *f, const unsigned long *ioctls, size_t n)
{
	scmp_filter_ctx ctx;
	int r = build(&ctx, ioctls, n);

	if (r < 0)
		return r;
	fflush(f);
	r = seccomp_export_pfc(ctx, fileno(f));
	seccomp_release(ctx);
	return r;
}
