// Package admin is wasmgate's admin HTTP API and its Go client: the
// control plane over a deploy.Manager and an apikeys.Store, which the
// wasmgate CLI (deploy, stages, rollback, pin, canary, plugin push,
// history, export, apikeys, usageplans) speaks.
//
// Every endpoint lives under /v1 and answers JSON, apart from the exports,
// which answer the API document as YAML. An error is
//
//	{"message": "..."}
//
// with status 400 (deploy.ErrInvalid or apikeys.ErrInvalid, a bad JSON
// body or query), 401 (a missing or wrong token), 404 (deploy.ErrNotFound,
// apikeys.ErrNotFound, an unknown endpoint), 405 (a method the endpoint
// does not take), 409 (deploy.ErrConflict, apikeys.ErrConflict), 413 (a
// body over its cap: 64 MiB for a plugin, 10 MiB otherwise) or 500.
//
// With Options.Token set, every request needs "Authorization: Bearer
// TOKEN"; CheckListen refuses a non-loopback listen address without one.
// The X-Wasmgate-Author header names the author recorded in the history
// (default "admin").
//
// Endpoints:
//
//	GET    /v1/health                           {"status":"ok"}
//	GET    /v1/plugins                          []deploy.PluginInfo
//	GET    /v1/plugins/{digest}                 deploy.PluginInfo
//	POST   /v1/plugins?name=N&version=V         body: the .wasm → 201 (200 when already stored) deploy.PluginInfo
//	GET    /v1/deployments                      []deploy.Deployment, newest first
//	GET    /v1/deployments/{id}                 deploy.Deployment
//	POST   /v1/deployments?stage=S&description=D&source=F   body: the API document → 201 deploy.Deployment
//	GET    /v1/deployments/{id}/export?format=oas3|swagger2 the document (application/yaml)
//	GET    /v1/stages                           []deploy.StageStatus
//	GET    /v1/stages/{name}                    deploy.StageStatus
//	PUT    /v1/stages/{name}                    body: deploy.StageSpec → deploy.Stage
//	DELETE /v1/stages/{name}                    204
//	POST   /v1/stages/{name}/rollback           body (optional): {"to":"d-3"} → deploy.Stage
//	PUT    /v1/stages/{name}/pins/{plugin}      body: {"ref":"1.0.0"} → deploy.Stage
//	DELETE /v1/stages/{name}/pins/{plugin}      deploy.Stage
//	PUT    /v1/stages/{name}/canary             body: deploy.Canary → deploy.Stage
//	POST   /v1/stages/{name}/canary/promote     deploy.Stage
//	DELETE /v1/stages/{name}/canary             deploy.Stage
//	GET    /v1/stages/{name}/export?format=&deployment=   the stage's document (application/yaml)
//	GET    /v1/history?stage=S&limit=N          []deploy.Event, newest first
//
// API keys and usage plans (Options.APIKeys; 404 without a key store). A
// key's value is in the answer to its creation only:
//
//	POST   /v1/apikeys                          body: apikeys.KeySpec → 201 apikeys.CreatedKey
//	GET    /v1/apikeys                          []apikeys.Key
//	GET    /v1/apikeys/{id}                     apikeys.Key
//	PATCH  /v1/apikeys/{id}                     body: apikeys.KeyUpdate ({"enabled":false}) → apikeys.Key
//	DELETE /v1/apikeys/{id}                     204
//	POST   /v1/usageplans                       body: apikeys.PlanSpec → 201 apikeys.Plan
//	GET    /v1/usageplans                       []apikeys.Plan
//	GET    /v1/usageplans/{id}                  apikeys.Plan
//	PUT    /v1/usageplans/{id}                  body: apikeys.PlanSpec → apikeys.Plan
//	DELETE /v1/usageplans/{id}                  204 (409 while it has keys)
//	PUT    /v1/usageplans/{id}/keys/{keyId}     apikeys.Plan (409 when the key has another plan for one of its stages)
//	DELETE /v1/usageplans/{id}/keys/{keyId}     apikeys.Plan
package admin
