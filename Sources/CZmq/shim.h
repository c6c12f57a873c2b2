#ifndef ALV_CZMQ_SHIM_H
#define ALV_CZMQ_SHIM_H
#include <zmq.h>

// zmq_version writes through three out-pointers; one packed int is easier to carry.
static inline int alv_zmq_version(void) {
    int major = 0, minor = 0, patch = 0;
    zmq_version(&major, &minor, &patch);
    return major * 10000 + minor * 100 + patch;
}
#endif
