#ifndef ALV_CCURL_SHIM_H
#define ALV_CCURL_SHIM_H
#include <curl/curl.h>
// The socket loop (CurlSocketLoop) waits on an epoll and wakes with an eventfd.
#include <sys/epoll.h>
#include <sys/eventfd.h>

// curl_easy_setopt / curl_multi_setopt / curl_easy_getinfo are variadic: Swift cannot call them.
// One typed wrapper per argument type.
static inline CURLcode alv_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode alv_curl_easy_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode alv_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode alv_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode alv_curl_easy_setopt_write(CURL *h, CURLoption o, curl_write_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLMcode alv_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLcode alv_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode alv_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode alv_curl_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

// The socket interface's callbacks (function pointers and their data), set through the variadic setopt.
static inline CURLMcode alv_curl_multi_setopt_socketfunction(CURLM *m, curl_socket_callback f, void *data) {
    CURLMcode rc = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, f);
    return rc == CURLM_OK ? curl_multi_setopt(m, CURLMOPT_SOCKETDATA, data) : rc;
}
static inline CURLMcode alv_curl_multi_setopt_timerfunction(CURLM *m, curl_multi_timer_callback f, void *data) {
    CURLMcode rc = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, f);
    return rc == CURLM_OK ? curl_multi_setopt(m, CURLMOPT_TIMERDATA, data) : rc;
}
static inline CURLcode alv_curl_easy_setopt_closesocket(CURL *h, curl_closesocket_callback f, void *data) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, f);
    return rc == CURLE_OK ? curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, data) : rc;
}
// CURL_SOCKET_TIMEOUT and the CURL_POLL_* / CURL_CSELECT_* values are macros Swift may not import.
static const curl_socket_t alv_curl_socket_timeout = CURL_SOCKET_TIMEOUT;
static const int alv_curl_poll_in = CURL_POLL_IN, alv_curl_poll_out = CURL_POLL_OUT, alv_curl_poll_remove = CURL_POLL_REMOVE;
static const int alv_curl_cselect_in = CURL_CSELECT_IN, alv_curl_cselect_out = CURL_CSELECT_OUT, alv_curl_cselect_err = CURL_CSELECT_ERR;

// CURLMsg.data is a union; Swift cannot read its `result` member.
static inline CURLcode alv_curl_msg_result(const CURLMsg *m) { return m->data.result; }

// The version string lives in a struct reached through a function returning a pointer.
static inline const char *alv_curl_version_string(void) { return curl_version_info(CURLVERSION_NOW)->version; }
static inline int alv_curl_has_http2(void) { return (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2) != 0; }
#endif
