// header_rules.c — the header-rules plugin: sets and removes request and
// response headers from its JSON configuration. It is written in C against
// the raw Proxy-Wasm 0.2.1 ABI (no SDK), to show that a plugin in a second
// language runs in wasmgate unmodified, and that it runs in any
// Proxy-Wasm host (it imports nothing from the "wasmgate" module).
//
// Build, from plugins/header-rules (Debian: apt-get install clang lld
// wasi-libc; Debian's clang has no wasm32 compiler-rt, hence
// -nodefaultlibs … -lc):
//
//   clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -nodefaultlibs \
//     -o header-rules.wasm csrc/header_rules.c -lc
//
// or `make -C plugins/header-rules` (what `make plugins` runs). The .wasm
// is checked in (plugins/header-rules/header-rules.wasm) so tests need no
// C toolchain; TestWasmUpToDate fails when the two drift (and skips
// without clang).
//
// Configuration (JSON; unknown fields and wrong types are refused):
//
//   {"request_set":   {"x-env": "prod"},   set (replace) request headers
//    "request_remove": ["x-debug"],        remove request headers
//    "response_set":  {"x-frame-options": "DENY"},
//    "response_remove": ["server"]}

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))

typedef uint32_t status_t;

IMPORT(proxy_log) status_t proxy_log(uint32_t level, const char *msg, size_t size);
IMPORT(proxy_get_buffer_bytes) status_t proxy_get_buffer_bytes(uint32_t type, size_t start, size_t max, uint8_t **data, size_t *size);
IMPORT(proxy_replace_header_map_value) status_t proxy_replace_header_map_value(uint32_t type, const char *key, size_t key_size, const char *value, size_t value_size);
IMPORT(proxy_remove_header_map_value) status_t proxy_remove_header_map_value(uint32_t type, const char *key, size_t key_size);

enum { MAP_REQUEST_HEADERS = 0, MAP_RESPONSE_HEADERS = 2 };
enum { BUF_PLUGIN_CONFIGURATION = 7 };
enum { LOG_INFO = 2, LOG_ERROR = 4 };
enum { CONTINUE = 0 };
enum { MAX_RULES = 64, MAX_STRING = 4096 };

// wasmgate_hooks bits (abi.HookRequestHeaders, abi.HookResponseHeaders):
// other hosts ignore the export.
enum { HOOK_REQUEST_HEADERS = 1 << 0, HOOK_RESPONSE_HEADERS = 1 << 3 };

struct pair { char *name, *value; size_t name_len, value_len; };

struct rules {
	struct pair set[MAX_RULES];
	int nset;
	struct pair remove[MAX_RULES];
	int nremove;
};

static struct rules request_rules, response_rules;

static void log_msg(uint32_t level, const char *msg) { proxy_log(level, msg, strlen(msg)); }

// ---- a strict JSON reader for the configuration's shape ----

struct parser {
	const char *start, *p, *end;
	char err[256]; // the first error
	long at;       // and where it was found
};

static void fail(struct parser *ps, const char *what) {
	if (ps->err[0]) return;
	snprintf(ps->err, sizeof ps->err, "%s", what);
	ps->at = (long)(ps->p - ps->start);
}

static void skip_ws(struct parser *ps) {
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int expect(struct parser *ps, char c) {
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return 1;
	}
	return 0;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// parse_string reads a JSON string into a malloc'd, NUL-terminated buffer.
static char *parse_string(struct parser *ps, size_t *len) {
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"') {
		fail(ps, "want a string");
		return NULL;
	}
	ps->p++;
	char *out = malloc(MAX_STRING + 1);
	if (!out) {
		fail(ps, "out of memory");
		return NULL;
	}
	size_t n = 0;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p++;
		if (c < 0x20) {
			fail(ps, "control character in a string");
			free(out);
			return NULL;
		}
		if (c == '\\') {
			if (ps->p >= ps->end) break;
			char e = *ps->p++;
			switch (e) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int v = 0;
				for (int i = 0; i < 4; i++) {
					int h = ps->p < ps->end ? hexval(*ps->p++) : -1;
					if (h < 0) {
						fail(ps, "bad \\u escape");
						free(out);
						return NULL;
					}
					v = v * 16 + h;
				}
				if (v >= 0x80) {
					fail(ps, "only ASCII is allowed in header names and values");
					free(out);
					return NULL;
				}
				c = (unsigned char)v;
				break;
			}
			default:
				fail(ps, "bad escape in a string");
				free(out);
				return NULL;
			}
		}
		if (n >= MAX_STRING) {
			fail(ps, "string longer than 4096 bytes");
			free(out);
			return NULL;
		}
		out[n++] = (char)c;
	}
	if (ps->p >= ps->end) {
		fail(ps, "unterminated string");
		free(out);
		return NULL;
	}
	ps->p++; // closing quote
	out[n] = 0;
	*len = n;
	return out;
}

static int is_token_char(unsigned char c) {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

// check_name lower-cases a header name and checks it is an HTTP token.
static int check_name(struct parser *ps, char *s, size_t n) {
	if (n == 0) {
		fail(ps, "empty header name");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] - 'A' + 'a');
		if (!is_token_char((unsigned char)s[i])) {
			char msg[160];
			snprintf(msg, sizeof msg, "\"%.60s\" is not a header name (pseudo-headers like :path cannot be changed here)", s);
			fail(ps, msg);
			return 0;
		}
	}
	return 1;
}

static int check_value(struct parser *ps, const char *s, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == 0) {
			fail(ps, "a header value contains CR, LF or NUL");
			return 0;
		}
	}
	return 1;
}

// parse_set reads {"name": "value", ...}.
static int parse_set(struct parser *ps, struct rules *r, const char *field) {
	if (!expect(ps, '{')) {
		char msg[96];
		snprintf(msg, sizeof msg, "\"%s\" must be an object of header names to values", field);
		fail(ps, msg);
		return 0;
	}
	if (expect(ps, '}')) return 1;
	do {
		struct pair pr;
		if (!(pr.name = parse_string(ps, &pr.name_len)) || !check_name(ps, pr.name, pr.name_len)) return 0;
		if (!expect(ps, ':')) {
			fail(ps, "want ':'");
			return 0;
		}
		if (!(pr.value = parse_string(ps, &pr.value_len))) return 0;
		if (!check_value(ps, pr.value, pr.value_len)) return 0;
		if (r->nset >= MAX_RULES) {
			fail(ps, "more than 64 headers to set");
			return 0;
		}
		r->set[r->nset++] = pr;
	} while (expect(ps, ','));
	if (!expect(ps, '}')) {
		fail(ps, "want ',' or '}'");
		return 0;
	}
	return 1;
}

// parse_remove reads ["name", ...].
static int parse_remove(struct parser *ps, struct rules *r, const char *field) {
	if (!expect(ps, '[')) {
		char msg[96];
		snprintf(msg, sizeof msg, "\"%s\" must be an array of header names", field);
		fail(ps, msg);
		return 0;
	}
	if (expect(ps, ']')) return 1;
	do {
		struct pair pr = {0};
		if (!(pr.name = parse_string(ps, &pr.name_len)) || !check_name(ps, pr.name, pr.name_len)) return 0;
		if (r->nremove >= MAX_RULES) {
			fail(ps, "more than 64 headers to remove");
			return 0;
		}
		r->remove[r->nremove++] = pr;
	} while (expect(ps, ','));
	if (!expect(ps, ']')) {
		fail(ps, "want ',' or ']'");
		return 0;
	}
	return 1;
}

static int parse_config(struct parser *ps) {
	skip_ws(ps);
	if (ps->p == ps->end) return 1; // no configuration: nothing to do
	if (!expect(ps, '{')) {
		fail(ps, "want a JSON object like {\"response_set\": {\"x-frame-options\": \"DENY\"}}");
		return 0;
	}
	int seen = 0;
	if (!expect(ps, '}')) {
		do {
			size_t n;
			char *key = parse_string(ps, &n);
			if (!key) return 0;
			if (!expect(ps, ':')) {
				free(key);
				fail(ps, "want ':'");
				return 0;
			}
			int bit, ok;
			if (!strcmp(key, "request_set")) bit = 1, ok = parse_set(ps, &request_rules, key);
			else if (!strcmp(key, "request_remove")) bit = 2, ok = parse_remove(ps, &request_rules, key);
			else if (!strcmp(key, "response_set")) bit = 4, ok = parse_set(ps, &response_rules, key);
			else if (!strcmp(key, "response_remove")) bit = 8, ok = parse_remove(ps, &response_rules, key);
			else {
				char msg[160];
				snprintf(msg, sizeof msg, "unknown field \"%.60s\" (want request_set, request_remove, response_set, response_remove)", key);
				free(key);
				fail(ps, msg);
				return 0;
			}
			if (ok && (seen & bit)) {
				char msg[96];
				snprintf(msg, sizeof msg, "\"%s\" is given twice", key);
				fail(ps, msg);
				ok = 0;
			}
			seen |= bit;
			free(key);
			if (!ok) return 0;
		} while (expect(ps, ','));
		if (!expect(ps, '}')) {
			fail(ps, "want ',' or '}'");
			return 0;
		}
	}
	skip_ws(ps);
	if (ps->p != ps->end) {
		fail(ps, "trailing data after the object");
		return 0;
	}
	return 1;
}

// ---- the Proxy-Wasm exports ----

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

EXPORT(proxy_on_memory_allocate) void *proxy_on_memory_allocate(size_t size) { return malloc(size); }

EXPORT(wasmgate_hooks) uint32_t wasmgate_hooks(void) {
	uint32_t h = 0;
	if (request_rules.nset || request_rules.nremove) h |= HOOK_REQUEST_HEADERS;
	if (response_rules.nset || response_rules.nremove) h |= HOOK_RESPONSE_HEADERS;
	return h;
}

EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id) {}

EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t root_id, size_t size) { return 1; }

EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root_id, size_t size) {
	uint8_t *data = NULL;
	size_t n = 0;
	if (size > 0 && proxy_get_buffer_bytes(BUF_PLUGIN_CONFIGURATION, 0, size, &data, &n) != 0) {
		log_msg(LOG_ERROR, "header-rules: cannot read the configuration");
		return 0;
	}
	struct parser ps = {(const char *)data, (const char *)data, (const char *)data + n, {0}, 0};
	int ok = parse_config(&ps);
	if (!ok) {
		char msg[320];
		snprintf(msg, sizeof msg, "header-rules: configuration: %s (at byte %ld)", ps.err, ps.at);
		log_msg(LOG_ERROR, msg);
	} else {
		char msg[128];
		snprintf(msg, sizeof msg, "header-rules: %d request and %d response rules",
			request_rules.nset + request_rules.nremove, response_rules.nset + response_rules.nremove);
		log_msg(LOG_INFO, msg);
	}
	free(data);
	return ok;
}

static void apply(uint32_t map, const struct rules *r) {
	for (int i = 0; i < r->nremove; i++)
		proxy_remove_header_map_value(map, r->remove[i].name, r->remove[i].name_len);
	for (int i = 0; i < r->nset; i++)
		proxy_replace_header_map_value(map, r->set[i].name, r->set[i].name_len, r->set[i].value, r->set[i].value_len);
}

EXPORT(proxy_on_request_headers) uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
	apply(MAP_REQUEST_HEADERS, &request_rules);
	return CONTINUE;
}

EXPORT(proxy_on_response_headers) uint32_t proxy_on_response_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
	apply(MAP_RESPONSE_HEADERS, &response_rules);
	return CONTINUE;
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t context_id) { return 1; }

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) {}
