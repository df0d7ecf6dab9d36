// Loading a C library with dlopen when it is first needed, for the shims that forward to it
// (CCurlShim: libcurl, CLibPQShim: libpq; docs/performance.md "Libraries loaded when needed").
#ifndef PUSHCTL_CLIBRARYLOADER_H
#define PUSHCTL_CLIBRARYLOADER_H

#include <pthread.h>
#include <stddef.h>

/// One function to look up: its name, and where in the caller's table of function pointers its
/// address goes (`offsetof` the field).
typedef struct {
    const char *name;
    size_t offset;
} pushctl_library_symbol;

/// A library loaded at most once: the answer of the first load, kept for every later call.
typedef struct {
    pthread_mutex_t lock;
    int state;  // 0 not tried yet, 1 loaded, -1 failed (read with acquire once set)
    char error[512];
} pushctl_loaded_library;

#define PUSHCTL_LOADED_LIBRARY_INIT {PTHREAD_MUTEX_INITIALIZER, 0, {0}}

/// Opens `library` (dlopen, RTLD_NOW | RTLD_LOCAL) and stores the address of each of `symbols`
/// in `table`: 0, or -1 with "cannot load LIBRARY: REASON" in `error` (and the library closed).
int pushctl_library_open(
    const char *library, const pushctl_library_symbol *symbols, size_t count, void *table, char *error, size_t length);

/// `pushctl_library_open` the first time, under `loaded`'s lock; later calls return the first
/// call's answer at the cost of one atomic load: NULL when loaded, else the message.
const char *pushctl_library_load_once(
    pushctl_loaded_library *loaded, const char *library, const pushctl_library_symbol *symbols, size_t count,
    void *table);

/// For a shim's forwarding functions: reaching one without its library loaded is a bug (every
/// caller loads the library first and reports its error), so a load `error` here is printed and
/// the process aborts rather than calling through a null pointer.
void pushctl_library_required(const char *error);

/// Moves the calling thread to another CPU when it runs on `cpu` and the process may run
/// elsewhere, then lets it run anywhere again (it stays where it is until the kernel balances).
/// For a thread that loads a library beside the main thread (libcurl, beside `apply`'s): Linux
/// may place a new thread on its creator's CPU while another sits idle, and the two then run in
/// turns (measured on the 2-core machine: the whole 4 ms load, docs/performance.md "Libraries
/// loaded when needed").
void pushctl_move_off_cpu(int cpu);

/// The CPU the calling thread runs on (sched_getcpu), or -1.
int pushctl_current_cpu(void);

#endif
