#ifndef ALV_PROCESS_CONTROL_H
#define ALV_PROCESS_CONTROL_H

/// Makes this process the reaper of its orphaned descendants (prctl is variadic, so Swift cannot call it).
/// Returns 0 on success, -1 with errno set otherwise.
int alv_become_child_subreaper(void);

/// pipe2(fds, O_CLOEXEC): Glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module omits.
int alv_pipe_cloexec(int fds[2]);

#endif
