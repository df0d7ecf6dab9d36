#include "CLibPQShim.h"

#include <CLibraryLoader.h>
#include <postgresql/libpq-fe.h>
#include <stddef.h>

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
static pushctl_loaded_library libpq = PUSHCTL_LOADED_LIBRARY_INIT;

#define PUSHCTL_SYMBOL(type, name, parameters, arguments) {#name, offsetof(struct pq_api, name)},
static const pushctl_library_symbol symbols[] = {
    PUSHCTL_LIBPQ_VALUE_FUNCTIONS(PUSHCTL_SYMBOL) PUSHCTL_LIBPQ_VOID_FUNCTIONS(PUSHCTL_SYMBOL)};
#undef PUSHCTL_SYMBOL

const char *pushctl_pq_load(void) {
    return pushctl_library_load_once(&libpq, PUSHCTL_LIBPQ_SONAME, symbols, sizeof symbols / sizeof *symbols, &api);
}

int pushctl_pq_probe_library(const char *name, char *error, size_t length) {
    struct pq_api probe;
    return pushctl_library_open(name, symbols, sizeof symbols / sizeof *symbols, &probe, error, length);
}

// Reaching a forwarder without the library loaded is a bug (Connection loads it first); it is
// reported rather than crashed on.
static void require_library(void) { pushctl_library_required(pushctl_pq_load()); }

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
