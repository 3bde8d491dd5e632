// cguest.c — a Proxy-Wasm 0.2.1 plugin written in C against wasi-libc: the
// conformance suite's second guest language. It allocates through libc
// malloc (exported as proxy_on_memory_allocate), relies on the host calling
// the reactor's _initialize, writes to stdout, and performs the large-data
// abuse cases.
//
// Build (from conformance/; Debian's clang has no wasm32 compiler-rt, hence
// -nodefaultlibs … -lc, which keeps crt1-reactor.o and its _initialize):
//
//   clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -nodefaultlibs -o guests/cguest.wasm guests/cguest.c -lc
//
// or `make guests`.
//
// The plugin configuration selects the mode:
//
//   echo[:KEY]  (or empty) a small but complete plugin: rewrites headers and
//               bodies, counts requests in shared data "c-count-KEY" and in
//               the counter "c_requests_KEY"
//   giant-add   adds 10,000 request headers in proxy_on_request_headers
//   giant-read  reads the 1 MB request header "x-big" and the whole map
//   big-body    reads the whole request body, rewrites every byte (+1) and
//               writes it back in proxy_on_request_body
//
// Results are logged through proxy_log as lines starting with "c: ".

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))

typedef uint32_t status_t;

IMPORT(proxy_log) status_t proxy_log(uint32_t level, const char *msg, size_t size);
IMPORT(proxy_get_buffer_bytes) status_t proxy_get_buffer_bytes(uint32_t type, size_t start, size_t max, uint8_t **data, size_t *size);
IMPORT(proxy_set_buffer_bytes) status_t proxy_set_buffer_bytes(uint32_t type, size_t start, size_t size, const uint8_t *data, size_t data_size);
IMPORT(proxy_get_header_map_size) status_t proxy_get_header_map_size(uint32_t type, size_t *size);
IMPORT(proxy_get_header_map_pairs) status_t proxy_get_header_map_pairs(uint32_t type, uint8_t **data, size_t *size);
IMPORT(proxy_get_header_map_value) status_t proxy_get_header_map_value(uint32_t type, const char *key, size_t key_size, uint8_t **value, size_t *value_size);
IMPORT(proxy_add_header_map_value) status_t proxy_add_header_map_value(uint32_t type, const char *key, size_t key_size, const char *value, size_t value_size);
IMPORT(proxy_replace_header_map_value) status_t proxy_replace_header_map_value(uint32_t type, const char *key, size_t key_size, const char *value, size_t value_size);
IMPORT(proxy_remove_header_map_value) status_t proxy_remove_header_map_value(uint32_t type, const char *key, size_t key_size);
IMPORT(proxy_get_shared_data) status_t proxy_get_shared_data(const char *key, size_t key_size, uint8_t **value, size_t *value_size, uint32_t *cas);
IMPORT(proxy_set_shared_data) status_t proxy_set_shared_data(const char *key, size_t key_size, const uint8_t *value, size_t value_size, uint32_t cas);
IMPORT(proxy_define_metric) status_t proxy_define_metric(uint32_t type, const char *name, size_t name_size, uint32_t *id);
IMPORT(proxy_increment_metric) status_t proxy_increment_metric(uint32_t id, int64_t delta);
IMPORT(proxy_get_property) status_t proxy_get_property(const char *path, size_t path_size, uint8_t **value, size_t *value_size);

enum { MAP_REQUEST_HEADERS = 0, MAP_RESPONSE_HEADERS = 2 };
enum { BUF_REQUEST_BODY = 0, BUF_RESPONSE_BODY = 1, BUF_PLUGIN_CONFIGURATION = 7 };
enum { LOG_INFO = 2 };
enum { CONTINUE = 0, PAUSE = 1 };
enum { MODE_ECHO, MODE_GIANT_ADD, MODE_GIANT_READ, MODE_BIG_BODY };

static int mode = MODE_ECHO;
static uint32_t metric_id;
static char count_key[80] = "c-count-";
static size_t count_key_len = 8;
static int initialized; // set by a constructor, which only runs via _initialize

__attribute__((constructor)) static void init(void) { initialized = 1; }

static void logf(const char *fmt, ...) {
	static char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
	proxy_log(LOG_INFO, buf, (size_t)n);
}

static uint32_t fnv(const uint8_t *p, size_t n) {
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
	return h;
}

// Counts the pairs of a serialized map, or returns -1 when it is malformed.
static long count_pairs(const uint8_t *p, size_t n) {
	if (n == 0 || (n == 1 && p[0] == 0)) return 0;
	if (n < 4) return -1;
	uint32_t count;
	memcpy(&count, p, 4);
	if ((uint64_t)count * 8 > n - 4) return -1;
	uint64_t want = 4 + (uint64_t)count * 8;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t k, v;
		memcpy(&k, p + 4 + 8 * i, 4);
		memcpy(&v, p + 8 + 8 * i, 4);
		want += (uint64_t)k + v + 2;
	}
	return want == n ? (long)count : -1;
}

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

EXPORT(proxy_on_memory_allocate) void *proxy_on_memory_allocate(size_t size) { return malloc(size); }

EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t ctx, uint32_t parent) {}

EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t ctx, size_t size) {
	uint8_t *cfg = NULL;
	size_t n = 0;
	if (size > 0) {
		status_t st = proxy_get_buffer_bytes(BUF_PLUGIN_CONFIGURATION, 0, size, &cfg, &n);
		if (st != 0) {
			logf("c: configure status=%u", st);
			return 0;
		}
	}
	if (n == 9 && memcmp(cfg, "giant-add", 9) == 0) mode = MODE_GIANT_ADD;
	else if (n == 10 && memcmp(cfg, "giant-read", 10) == 0) mode = MODE_GIANT_READ;
	else if (n == 8 && memcmp(cfg, "big-body", 8) == 0) mode = MODE_BIG_BODY;
	char metric[80] = "c_requests_";
	size_t metric_len = 11;
	if (n > 5 && n < 60 && memcmp(cfg, "echo:", 5) == 0) {
		memcpy(count_key + count_key_len, cfg + 5, n - 5);
		count_key_len += n - 5;
		memcpy(metric + metric_len, cfg + 5, n - 5);
		metric_len += n - 5;
	}
	free(cfg);
	proxy_define_metric(0, metric, metric_len, &metric_id);
	printf("c: stdout configure mode=%d\n", mode);
	fflush(stdout);
	logf("c: configure mode=%d initialized=%d", mode, initialized);
	return initialized;
}

static uint32_t count_request(void) {
	// Increment the shared request count with compare-and-swap.
	for (int tries = 0; tries < 100; tries++) {
		uint8_t *v = NULL;
		size_t vn = 0;
		uint32_t cas = 0, count = 0;
		status_t st = proxy_get_shared_data(count_key, count_key_len, &v, &vn, &cas);
		if (st == 0 && vn == 4) memcpy(&count, v, 4);
		free(v);
		count++;
		if (proxy_set_shared_data(count_key, count_key_len, (uint8_t *)&count, 4, st == 0 ? cas : 0) == 0) return count;
	}
	return 0;
}

EXPORT(proxy_on_request_headers) uint32_t proxy_on_request_headers(uint32_t ctx, size_t num, uint32_t eos) {
	if (mode == MODE_GIANT_ADD) {
		char k[32], v[32];
		int failures = 0;
		for (int i = 0; i < 10000; i++) {
			int kn = snprintf(k, sizeof k, "x-giant-%05d", i);
			int vn = snprintf(v, sizeof v, "v%d", i);
			if (proxy_add_header_map_value(MAP_REQUEST_HEADERS, k, kn, v, vn) != 0) failures++;
		}
		size_t size = 0;
		status_t st1 = proxy_get_header_map_size(MAP_REQUEST_HEADERS, &size);
		uint8_t *p = NULL;
		size_t n = 0;
		status_t st2 = proxy_get_header_map_pairs(MAP_REQUEST_HEADERS, &p, &n);
		logf("c: giant-add failures=%d size_status=%u size=%zu pairs_status=%u bytes=%zu pairs=%ld",
		     failures, st1, size, st2, n, count_pairs(p, n));
		free(p);
		return CONTINUE;
	}
	if (mode == MODE_GIANT_READ) {
		uint8_t *p = NULL;
		size_t n = 0;
		status_t st = proxy_get_header_map_value(MAP_REQUEST_HEADERS, "x-big", 5, &p, &n);
		logf("c: giant-read value_status=%u len=%zu fnv=%u", st, n, st == 0 ? fnv(p, n) : 0);
		free(p);
		p = NULL;
		n = 0;
		st = proxy_get_header_map_pairs(MAP_REQUEST_HEADERS, &p, &n);
		logf("c: giant-read pairs_status=%u bytes=%zu pairs=%ld", st, n, count_pairs(p, n));
		free(p);
		return CONTINUE;
	}
	if (mode != MODE_ECHO) return CONTINUE;

	uint8_t *path = NULL;
	size_t pn = 0;
	status_t st = proxy_get_header_map_value(MAP_REQUEST_HEADERS, ":path", 5, &path, &pn);
	if (st == 0) proxy_add_header_map_value(MAP_REQUEST_HEADERS, "x-c-path", 8, (char *)path, pn);
	free(path);
	uint8_t *name = NULL;
	size_t nn = 0;
	if (proxy_get_property("plugin_name", 11, &name, &nn) == 0)
		proxy_replace_header_map_value(MAP_REQUEST_HEADERS, "x-c-plugin", 10, (char *)name, nn);
	free(name);
	char buf[16];
	int bn = snprintf(buf, sizeof buf, "%u", count_request());
	proxy_replace_header_map_value(MAP_REQUEST_HEADERS, "x-c-count", 9, buf, bn);
	proxy_increment_metric(metric_id, 1);
	logf("c: request_headers ctx=%u num=%zu eos=%u", ctx, num, eos);
	return CONTINUE;
}

static status_t rewrite_body(uint32_t type, size_t size, size_t *got, uint32_t *sum) {
	uint8_t *p = NULL;
	size_t n = 0;
	status_t st = proxy_get_buffer_bytes(type, 0, size, &p, &n);
	*got = n;
	if (st != 0) return st;
	if (mode == MODE_BIG_BODY) {
		for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(p[i] + 1);
	} else {
		for (size_t i = 0; i < n; i++)
			if (p[i] >= 'a' && p[i] <= 'z') p[i] -= 32;
	}
	*sum = fnv(p, n);
	st = proxy_set_buffer_bytes(type, 0, n, p, n);
	free(p);
	return st;
}

EXPORT(proxy_on_request_body) uint32_t proxy_on_request_body(uint32_t ctx, size_t size, uint32_t eos) {
	if (!eos) return PAUSE; // buffer the whole body
	if (mode != MODE_ECHO && mode != MODE_BIG_BODY) return CONTINUE;
	size_t got = 0;
	uint32_t sum = 0;
	status_t st = rewrite_body(BUF_REQUEST_BODY, size, &got, &sum);
	logf("c: request_body size=%zu got=%zu status=%u fnv=%u", size, got, st, sum);
	return CONTINUE;
}

EXPORT(proxy_on_response_headers) uint32_t proxy_on_response_headers(uint32_t ctx, size_t num, uint32_t eos) {
	if (mode != MODE_ECHO) return CONTINUE;
	proxy_replace_header_map_value(MAP_RESPONSE_HEADERS, "content-type", 12, "text/x-c", 8);
	proxy_remove_header_map_value(MAP_RESPONSE_HEADERS, "set-cookie", 10);
	return CONTINUE;
}

EXPORT(proxy_on_response_body) uint32_t proxy_on_response_body(uint32_t ctx, size_t size, uint32_t eos) {
	if (mode != MODE_ECHO || !eos) return CONTINUE;
	status_t st = proxy_set_buffer_bytes(BUF_RESPONSE_BODY, size, 0, (const uint8_t *)" [c]", 4);
	logf("c: response_body size=%zu append=%u", size, st);
	return CONTINUE;
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t ctx) { return 1; }

EXPORT(proxy_on_log) void proxy_on_log(uint32_t ctx) {
	if (mode == MODE_ECHO) logf("c: log ctx=%u", ctx);
}

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t ctx) {}
