// Package observe is the gateway's observability: access logs, execution
// logs, opt-in request/response capture and Prometheus metrics.
//
// # Access logs
//
// One line per request, written from a Record the gateway fills. A
// stage's format is "json" (an object of every field, written with
// zerolog's typed API: no reflection), "clf" (Common Log Format with the
// request id), or a template of $context variables as in API Gateway:
//
//	$context.requestId $context.httpMethod $context.resourcePath $context.status
//
// See Variables for the list. A format is compiled once, when the stage's
// settings change (Observer.Configure), never per request.
//
// # Destinations
//
// "stdout", "stderr", a file path (rotated by size, with lumberjack), or a
// comma-separated list of those. Every destination is written through an
// AsyncWriter: requests append their line to a memory buffer that a
// background goroutine writes out, so a slow disk or a blocked pipe never
// blocks a request; when the buffer is full, lines are dropped and
// counted (wasmgate_log_lines_dropped_total).
//
// # Execution logs
//
// Per stage at level off, error or info: each plugin callback's phase,
// duration and verdict (continue, pause, local_response, error), and the
// plugins' own proxy_log lines, tagged with the plugin's name and digest
// and the request id.
//
// # Capture
//
// A sampled share of a stage's requests written whole (headers and bodies
// capped in size) after redaction: Authorization, Proxy-Authorization,
// Cookie, Set-Cookie and X-Api-Key headers, configured header names, and
// configured JSON body fields at any depth. A JSON body that cannot be
// parsed (for example because it was cut at the size cap) is left out
// rather than written unredacted.
//
// # Metrics
//
// Metrics registers the gateway's Prometheus metrics: requests, 4XX and
// 5XX errors, latency and integration latency, cache hits and misses and
// throttled requests per stage and route template (requests that match no
// route are counted under route "unknown", so the label set stays
// bounded); plugin calls, errors, traps and time per stage and plugin;
// instance pool sizes; and the metrics plugins define with
// proxy_define_metric, named wasmgate_plugin_<plugin>_<metric>.
package observe
