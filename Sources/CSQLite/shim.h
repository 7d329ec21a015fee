#include <sqlite3.h>

/// Keep the WAL as it is when this connection closes (no checkpoint): `sqlite3_db_config` is variadic, which
/// Swift cannot call.
static inline int runbook_sqlite3_skip_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
