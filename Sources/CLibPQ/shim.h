// Debian keeps libpq-fe.h under postgresql/ (pkg-config's -I/usr/include/postgresql); named by
// that path so the module needs no pkg-config, whose --libs would link libpq into the binary
// (it is loaded when a PostgreSQL ledger is opened: CLibPQShim).
#include <postgresql/libpq-fe.h>
