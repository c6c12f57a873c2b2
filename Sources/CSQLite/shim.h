#ifndef ALV_CSQLITE_SHIM_H
#define ALV_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline sqlite3_destructor_type alv_sqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_bind_text with SQLITE_TRANSIENT so SQLite copies the bytes before the Swift buffer goes away.
static inline int alv_sqlite_bind_text(sqlite3_stmt *stmt, int index, const char *text, int length) {
    return sqlite3_bind_text(stmt, index, text, length, SQLITE_TRANSIENT);
}

static inline int alv_sqlite_bind_blob(sqlite3_stmt *stmt, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(stmt, index, bytes, length, SQLITE_TRANSIENT);
}
#endif
