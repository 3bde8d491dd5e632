package gateway

import "github.com/wasmgate/wasmgate/host/pipeline"

var _ pipeline.StageNamer = (*reqCtx)(nil)

// StageName implements pipeline.StageNamer: the stage serving the request
// (DefaultStage at the root), for API key lookups.
func (rc *reqCtx) StageName() string { return rc.stage.name }
