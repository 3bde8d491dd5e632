// Package deploy keeps what the gateway serves: content-addressed
// plugins, immutable deployments of API documents, and stages that point
// at them, with stage variables, per-stage plugin pins, canaries,
// rollback and history.
//
// Everything is persisted in one bbolt file in the data directory; every
// change is one transaction, so a crash (even kill -9) leaves either the
// previous state or the new one. A change is built first (documents
// parsed, plugins compiled and pre-warmed), then persisted, then swapped
// into the gateway with one atomic store: requests in flight finish on the
// snapshot they started on, and a change that fails to build changes
// nothing.
//
// Terms:
//   - A plugin is identified by its digest, "sha256:<hex>" of its .wasm;
//     name@version tags point at digests and never move.
//   - A deployment (d-1, d-2, ...) records an API document and the digest
//     each of its plugin references resolved to when it was made.
//   - A stage (dev, prod, ...) serves one deployment under /STAGE/... or
//     its host names, with its variables and its pins (plugin name →
//     digest, overriding the deployment's choice on that stage only), and
//     optionally a canary deployment taking a share of its requests.
package deploy
