// libpq, loaded when a PostgreSQL ledger is first opened (pushctl_pq_load) instead of linked: its
// libraries (OpenSSL, Kerberos, LDAP) would load at every start of every command otherwise.
#ifndef PUSHCTL_CLIBPQSHIM_H
#define PUSHCTL_CLIBPQSHIM_H

#include <stddef.h>

/// The soname pushctl loads libpq by (Debian's libpq5).
#define PUSHCTL_LIBPQ_SONAME "libpq.so.5"

/// Loads libpq (once; later calls return the first call's answer): NULL when it is loaded, else a
/// message naming the library and what went wrong ("cannot load libpq.so.5: ...").
const char *pushctl_pq_load(void);

/// Opens the library `name` and looks up every function pushctl calls, without using it: 0, or
/// -1 with the message in `error`. For tests of the loader's failure messages.
int pushctl_pq_probe_library(const char *name, char *error, size_t length);

#endif
