#define _GNU_SOURCE
#include "process_control.h"
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

int alv_become_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int alv_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
