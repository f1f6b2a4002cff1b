// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for spand in the lab: the lab kernel is built without
 * CONFIG_FILE_LOCKING, so flock() fails with ENOSYS there.  The lab runs
 * one spand per socket, so pretending the lock was taken is safe.
 */
#include <errno.h>
#include <sys/file.h>

int flock(int fd, int op)
{
	(void)fd;
	(void)op;
	return 0;
}
