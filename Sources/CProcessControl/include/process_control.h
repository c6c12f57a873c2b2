#ifndef ALV_PROCESS_CONTROL_H
#define ALV_PROCESS_CONTROL_H

/// Makes this process the reaper of its orphaned descendants (prctl is variadic, so Swift cannot call it).
/// Returns 0 on success, -1 with errno set otherwise.
int alv_become_child_subreaper(void);

#endif
