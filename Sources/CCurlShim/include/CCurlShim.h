// libcurl, loaded when first needed (pushctl_curl_load), and non-variadic entry points for its
// variadic curl_easy_setopt / curl_easy_getinfo, which Swift cannot call directly. Each wrapper
// fixes the type of the third argument.
#ifndef PUSHCTL_CCURLSHIM_H
#define PUSHCTL_CCURLSHIM_H

#include <curl/curl.h>

typedef size_t (*pushctl_curl_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);
typedef int (*pushctl_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                              curl_off_t ultotal, curl_off_t ulnow);
typedef int (*pushctl_curl_seek_callback)(void *userdata, curl_off_t offset, int origin);

CURLcode pushctl_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode pushctl_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode pushctl_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode pushctl_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode pushctl_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode pushctl_curl_setopt_data_callback(CURL *handle, CURLoption option, pushctl_curl_data_callback value);
CURLcode pushctl_curl_setopt_xferinfo_callback(CURL *handle, pushctl_curl_xferinfo_callback value);
CURLcode pushctl_curl_setopt_seek_callback(CURL *handle, pushctl_curl_seek_callback value);

CURLcode pushctl_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode pushctl_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode pushctl_curl_getinfo_string(CURL *handle, CURLINFO info, char **value);
CURLcode pushctl_curl_getinfo_double(CURL *handle, CURLINFO info, double *value);

/// The soname pushctl loads libcurl by (Debian's libcurl4, built on OpenSSL).
#define PUSHCTL_LIBCURL_SONAME "libcurl.so.4"

/// Loads libcurl (once; later calls return the first call's answer): NULL when it is loaded, else
/// a message naming the library and what went wrong ("cannot load libcurl.so.4: ...").
const char *pushctl_curl_load(void);

/// Opens the library `name` and looks up every function pushctl calls, without using it: 0, or
/// -1 with the message in `error`. For tests of the loader's failure messages.
int pushctl_curl_probe_library(const char *name, char *error, size_t length);

#endif
