// SPDX-License-Identifier: GPL-2.0
/*
 * guest_loop CPU: pin to CPU, map one page holding "1: jmp 1b" as a PROT32
 * guest and RUN it for 10 s at a time, forever. The first RUN's start is
 * announced on stdout ("guest_loop: running on CPU N"); every RUN that
 * does not end by its timeout is reported (and the loop goes on).
 * Used by selftests/bochs/kexec-test.sh: the kernel is kexec'd while this
 * runs, so the CPU must be stopped out of VMX operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/ept_pmap.h>

#define GPA_CODE 0x1000ULL

int main(int argc, char **argv)
{
	static const unsigned char spin[] = { 0xeb, 0xfe };	/* 1: jmp 1b */
	struct epm_map m = { 0 };
	struct epm_run r;
	unsigned long runs = 0;
	cpu_set_t set;
	int cpu = argc > 1 ? atoi(argv[1]) : 1;
	unsigned char *page;
	int fd;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("guest_loop: sched_setaffinity");
		return 1;
	}
	fd = open("/dev/ept-pmap", O_RDWR);
	if (fd < 0) {
		perror("guest_loop: open /dev/ept-pmap");
		return 1;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("guest_loop: mmap");
		return 1;
	}
	memset(page, 0xcc, 4096);
	memcpy(page, spin, sizeof(spin));
	m.gpa = GPA_CODE;
	m.size = 4096;
	m.uaddr = (unsigned long)page;
	m.flags = EPM_PERM_R | EPM_PERM_X;
	if (ioctl(fd, EPM_IOC_MAP, &m)) {
		perror("guest_loop: EPM_IOC_MAP");
		return 1;
	}
	printf("guest_loop: running on CPU %d\n", sched_getcpu());
	fflush(stdout);
	for (;;) {
		memset(&r, 0, sizeof(r));
		r.mode = EPM_MODE_PROT32;
		r.timeout_ns = 10ULL * 1000 * 1000 * 1000;
		r.regs.rip = GPA_CODE;
		r.regs.rflags = 2;
		if (ioctl(fd, EPM_IOC_RUN, &r) && errno != EINTR) {
			fprintf(stderr, "guest_loop: RUN %lu: %s\n", runs,
				strerror(errno));
			return 1;
		}
		runs++;
		if (r.exit_kind != EPM_EXIT_TIMEOUT)
			fprintf(stderr, "guest_loop: RUN %lu: exit_kind %u\n",
				runs, r.exit_kind);
	}
}
