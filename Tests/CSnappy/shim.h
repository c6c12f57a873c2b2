#ifndef ALV_CSNAPPY_SHIM_H
#define ALV_CSNAPPY_SHIM_H
// libsnappy's C interface, for tests of alv's own encoder against the reference.
#include <snappy-c.h>
#endif
