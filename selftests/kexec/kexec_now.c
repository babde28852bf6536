// SPDX-License-Identifier: GPL-2.0
/*
 * kexec_now BZIMAGE INITRD CMDLINE: kexec_file_load() them, then
 * reboot(LINUX_REBOOT_CMD_KEXEC) from CPU 0 (the reboot CPU). Returns only
 * on failure. Used by selftests/bochs/kexec-test.sh.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/reboot.h>

int main(int argc, char **argv)
{
	cpu_set_t set;
	int kfd, ifd;

	if (argc != 4) {
		fprintf(stderr, "usage: kexec_now BZIMAGE INITRD CMDLINE\n");
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("kexec_now: sched_setaffinity (going on)");
	kfd = open(argv[1], O_RDONLY);
	ifd = open(argv[2], O_RDONLY);
	if (kfd < 0 || ifd < 0) {
		perror("kexec_now: open");
		return 1;
	}
	/* the length counts the terminating NUL */
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(argv[3]) + 1,
		    argv[3], 0UL)) {
		perror("kexec_now: kexec_file_load");
		return 1;
	}
	printf("kexec_now: loaded, rebooting into it on CPU %d\n",
	       sched_getcpu());
	fflush(stdout);
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	perror("kexec_now: reboot(LINUX_REBOOT_CMD_KEXEC)");
	return 1;
}
