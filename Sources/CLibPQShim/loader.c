#include "CLibPQShim.h"

#include <dlfcn.h>
#include <postgresql/libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// The libpq functions pushctl calls, each with its return type, parameters and arguments. Each
// is defined below under its own name and forwards to the loaded library, so Postgres' Swift
// code calls them as declared in libpq-fe.h. Postgres.Connection loads the library (and throws
// its error) before its first call.
#define PUSHCTL_LIBPQ_VALUE_FUNCTIONS(X)                                                                         \
    X(char *, PQcmdTuples, (PGresult * res), (res))                                                              \
    X(PGconn *, PQconnectdbParams, (const char *const *keywords, const char *const *values, int expand_dbname), \
      (keywords, values, expand_dbname))                                                                         \
    X(int, PQconnectionNeedsPassword, (const PGconn *conn), (conn))                                              \
    X(int, PQenterPipelineMode, (PGconn * conn), (conn))                                                         \
    X(char *, PQerrorMessage, (const PGconn *conn), (conn))                                                      \
    X(PGresult *, PQexec, (PGconn * conn, const char *query), (conn, query))                                     \
    X(PGresult *, PQexecParams,                                                                                  \
      (PGconn * conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues,   \
       const int *paramLengths, const int *paramFormats, int resultFormat),                                      \
      (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))               \
    X(int, PQexitPipelineMode, (PGconn * conn), (conn))                                                          \
    X(Oid, PQftype, (const PGresult *res, int field_num), (res, field_num))                                      \
    X(PGresult *, PQgetResult, (PGconn * conn), (conn))                                                          \
    X(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))            \
    X(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))          \
    X(int, PQnfields, (const PGresult *res), (res))                                                              \
    X(int, PQntuples, (const PGresult *res), (res))                                                              \
    X(int, PQpipelineSync, (PGconn * conn), (conn))                                                              \
    X(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode))                        \
    X(char *, PQresultErrorMessage, (const PGresult *res), (res))                                                \
    X(ExecStatusType, PQresultStatus, (const PGresult *res), (res))                                              \
    X(int, PQsendPrepare, (PGconn * conn, const char *stmtName, const char *query, int nParams,                  \
                           const Oid *paramTypes),                                                               \
      (conn, stmtName, query, nParams, paramTypes))                                                              \
    X(int, PQsendQueryPrepared,                                                                                  \
      (PGconn * conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths, \
       const int *paramFormats, int resultFormat),                                                               \
      (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat))                          \
    X(ConnStatusType, PQstatus, (const PGconn *conn), (conn))

#define PUSHCTL_LIBPQ_VOID_FUNCTIONS(X)          \
    X(void, PQclear, (PGresult * res), (res))     \
    X(void, PQfinish, (PGconn * conn), (conn))    \
    X(void, PQreset, (PGconn * conn), (conn))

struct pq_api {
#define PUSHCTL_FIELD(type, name, parameters, arguments) type(*name) parameters;
    PUSHCTL_LIBPQ_VALUE_FUNCTIONS(PUSHCTL_FIELD)
    PUSHCTL_LIBPQ_VOID_FUNCTIONS(PUSHCTL_FIELD)
#undef PUSHCTL_FIELD
};

static struct pq_api api;
static char load_error[512];
static int load_failed;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static int open_library(const char *name, struct pq_api *out, char *error, size_t length) {
    // RTLD_LOCAL: libpq's symbols stay out of the global scope, so they never stand in for the
    // forwarding functions below (or the other way round).
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, length, "cannot load %s: %s", name, dlerror());
        return -1;
    }
#define PUSHCTL_LOOKUP(type, symbol, parameters, arguments)                       \
    *(void **)(&out->symbol) = dlsym(library, #symbol);                           \
    if (out->symbol == NULL) {                                                    \
        snprintf(error, length, "cannot load %s: it has no %s", name, #symbol);   \
        dlclose(library);                                                         \
        return -1;                                                                \
    }
    PUSHCTL_LIBPQ_VALUE_FUNCTIONS(PUSHCTL_LOOKUP)
    PUSHCTL_LIBPQ_VOID_FUNCTIONS(PUSHCTL_LOOKUP)
#undef PUSHCTL_LOOKUP
    return 0;
}

static void load_once_body(void) {
    load_failed = open_library(PUSHCTL_LIBPQ_SONAME, &api, load_error, sizeof load_error) != 0;
}

const char *pushctl_pq_load(void) {
    pthread_once(&load_once, load_once_body);
    return load_failed ? load_error : NULL;
}

int pushctl_pq_probe_library(const char *name, char *error, size_t length) {
    struct pq_api probe;
    return open_library(name, &probe, error, length);
}

// Reaching a forwarder without the library loaded is a bug (Connection loads it first); it is
// reported rather than crashed on.
static void require_library(void) {
    const char *error = pushctl_pq_load();
    if (error != NULL) {
        fprintf(stderr, "pushctl: %s\n", error);
        abort();
    }
}

#define PUSHCTL_FORWARD_VALUE(type, name, parameters, arguments) \
    type name parameters {                                      \
        require_library();                                      \
        return api.name arguments;                              \
    }
#define PUSHCTL_FORWARD_VOID(type, name, parameters, arguments) \
    type name parameters {                                     \
        require_library();                                     \
        api.name arguments;                                    \
    }
PUSHCTL_LIBPQ_VALUE_FUNCTIONS(PUSHCTL_FORWARD_VALUE)
PUSHCTL_LIBPQ_VOID_FUNCTIONS(PUSHCTL_FORWARD_VOID)
