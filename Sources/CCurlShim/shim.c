#include "CCurlShim.h"

#include <CLibraryLoader.h>
#include <stddef.h>

// libcurl is opened with dlopen when the first transport is made, not named in the binary: its
// closure of ~30 libraries (OpenSSL, GnuTLS, Kerberos, LDAP, ...) costs every process that loads
// it ~4 ms and ~6 MiB, and `--version`, `validate`, `plan --offline` and the ledger's commands
// never send a request. `apply` starts the load on a thread of its own while it reads its jobs
// (CurlTransport.initialiseInBackground). The libcurl functions pushctl calls are defined below
// under their own names and forward to the loaded library.

struct curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    void (*easy_reset)(CURL *handle);
    CURLcode (*easy_perform)(CURL *handle);
    const char *(*easy_strerror)(CURLcode code);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
    void (*slist_free_all)(struct curl_slist *list);
};

static struct curl_api api;
static pushctl_loaded_library libcurl = PUSHCTL_LOADED_LIBRARY_INIT;

#define PUSHCTL_SYMBOL(field, symbol) {symbol, offsetof(struct curl_api, field)}
static const pushctl_library_symbol symbols[] = {
    PUSHCTL_SYMBOL(global_init, "curl_global_init"),
    PUSHCTL_SYMBOL(easy_init, "curl_easy_init"),
    PUSHCTL_SYMBOL(easy_cleanup, "curl_easy_cleanup"),
    PUSHCTL_SYMBOL(easy_reset, "curl_easy_reset"),
    PUSHCTL_SYMBOL(easy_perform, "curl_easy_perform"),
    PUSHCTL_SYMBOL(easy_strerror, "curl_easy_strerror"),
    PUSHCTL_SYMBOL(easy_setopt, "curl_easy_setopt"),
    PUSHCTL_SYMBOL(easy_getinfo, "curl_easy_getinfo"),
    PUSHCTL_SYMBOL(slist_append, "curl_slist_append"),
    PUSHCTL_SYMBOL(slist_free_all, "curl_slist_free_all"),
};
#undef PUSHCTL_SYMBOL

const char *pushctl_curl_load(void) {
    return pushctl_library_load_once(&libcurl, PUSHCTL_LIBCURL_SONAME, symbols, sizeof symbols / sizeof *symbols, &api);
}

int pushctl_curl_probe_library(const char *name, char *error, size_t length) {
    struct curl_api probe;
    return pushctl_library_open(name, symbols, sizeof symbols / sizeof *symbols, &probe, error, length);
}

// Every caller goes through CurlTransport, which loads the library first and stops with its
// error if that fails; reaching a forwarder without it is a bug, reported rather than crashed on.
static void require_library(void) { pushctl_library_required(pushctl_curl_load()); }

CURLcode curl_global_init(long flags) {
    require_library();
    return api.global_init(flags);
}
CURL *curl_easy_init(void) {
    require_library();
    return api.easy_init();
}
void curl_easy_cleanup(CURL *handle) { api.easy_cleanup(handle); }
void curl_easy_reset(CURL *handle) { api.easy_reset(handle); }
CURLcode curl_easy_perform(CURL *handle) { return api.easy_perform(handle); }
const char *curl_easy_strerror(CURLcode code) {
    require_library();
    return api.easy_strerror(code);
}
struct curl_slist *curl_slist_append(struct curl_slist *list, const char *string) {
    require_library();
    return api.slist_append(list, string);
}
void curl_slist_free_all(struct curl_slist *list) {
    if (list != NULL) api.slist_free_all(list);
}

CURLcode pushctl_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return api.easy_setopt(handle, option, value);
}
CURLcode pushctl_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return api.easy_setopt(handle, option, value);
}
CURLcode pushctl_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return api.easy_setopt(handle, option, value);
}
CURLcode pushctl_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return api.easy_setopt(handle, option, value);
}
CURLcode pushctl_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return api.easy_setopt(handle, option, value);
}
CURLcode pushctl_curl_setopt_data_callback(CURL *handle, CURLoption option, pushctl_curl_data_callback value) {
    return api.easy_setopt(handle, option, value);
}
CURLcode pushctl_curl_setopt_xferinfo_callback(CURL *handle, pushctl_curl_xferinfo_callback value) {
    return api.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}
CURLcode pushctl_curl_setopt_seek_callback(CURL *handle, pushctl_curl_seek_callback value) {
    return api.easy_setopt(handle, CURLOPT_SEEKFUNCTION, value);
}
CURLcode pushctl_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return api.easy_getinfo(handle, info, value);
}
CURLcode pushctl_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return api.easy_getinfo(handle, info, value);
}
CURLcode pushctl_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return api.easy_getinfo(handle, info, value);
}
CURLcode pushctl_curl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return api.easy_getinfo(handle, info, value);
}
