// sched_getcpu, sched_setaffinity and CPU_* (pushctl_move_off_cpu).
#define _GNU_SOURCE
#include "CLibraryLoader.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

int pushctl_library_open(
    const char *library, const pushctl_library_symbol *symbols, size_t count, void *table, char *error, size_t length) {
    // RTLD_LOCAL: the library's symbols stay out of the global scope, so a lookup by name in the
    // process never finds them in place of the shims' forwarding functions of the same names.
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(error, length, "cannot load %s: %s", library, dlerror());
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        void *address = dlsym(handle, symbols[i].name);
        if (address == NULL) {
            snprintf(error, length, "cannot load %s: it has no %s", library, symbols[i].name);
            dlclose(handle);
            return -1;
        }
        *(void **)((char *)table + symbols[i].offset) = address;
    }
    return 0;
}

const char *pushctl_library_load_once(
    pushctl_loaded_library *loaded, const char *library, const pushctl_library_symbol *symbols, size_t count,
    void *table) {
    int state = __atomic_load_n(&loaded->state, __ATOMIC_ACQUIRE);
    if (state == 0) {
        pthread_mutex_lock(&loaded->lock);
        state = __atomic_load_n(&loaded->state, __ATOMIC_ACQUIRE);
        if (state == 0) {
            state = pushctl_library_open(library, symbols, count, table, loaded->error, sizeof loaded->error) == 0 ? 1 : -1;
            __atomic_store_n(&loaded->state, state, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&loaded->lock);
    }
    return state == 1 ? NULL : loaded->error;
}

void pushctl_library_required(const char *error) {
    if (error == NULL) return;
    fprintf(stderr, "pushctl: %s\n", error);
    abort();
}

int pushctl_current_cpu(void) { return sched_getcpu(); }

void pushctl_move_off_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getcpu() != cpu) return;
    cpu_set_t allowed, others;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (CPU_COUNT(&others) == 0 || sched_setaffinity(0, sizeof others, &others) != 0) return;
    // Running elsewhere now; free to run anywhere again (the kernel leaves it where it is).
    sched_setaffinity(0, sizeof allowed, &allowed);
}
