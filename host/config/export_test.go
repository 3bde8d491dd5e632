package config

import (
	"cmp"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// withoutLocs strips the Loc fields of pipelines and integrations, which
// point into whichever document the operations came from, and sorts the
// parameters, which a conversion may reorder.
func withoutLocs(ops []*Operation) []Operation {
	out := make([]Operation, len(ops))
	for i, op := range ops {
		o := *op
		o.Schema = nil // a format conversion rewrites schemas; TestOperationSchema covers them
		o.Parameters = slices.Clone(op.Parameters)
		slices.SortFunc(o.Parameters, func(a, b Param) int {
			return cmp.Or(cmp.Compare(a.In, b.In), cmp.Compare(a.Name, b.Name))
		})
		o.Pipeline = make([]PluginRef, len(op.Pipeline))
		for j, r := range op.Pipeline {
			r.Loc = ""
			o.Pipeline[j] = r
		}
		o.Integration = op.Integration.clone()
		o.Integration.Loc = ""
		if f := o.Integration.Function; f != nil {
			f.Loc = ""
		}
		out[i] = o
	}
	return out
}

// TestExportRoundTrip checks that Parse(Export(a)) gives a's operations,
// stages and base path, in the document's own format and converted.
func TestExportRoundTrip(t *testing.T) {
	for _, f := range documents(t, "valid") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		api, err := Parse(filepath.Base(f), data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, format := range []string{"", FormatOAS3, FormatSwagger2} {
			t.Run(filepath.Base(f)+"/"+format, func(t *testing.T) {
				out, err := Export(api, format)
				if err != nil {
					t.Fatalf("Export: %v", err)
				}
				back, err := Parse("exported.yaml", out)
				if err != nil {
					t.Fatalf("Parse(Export(a)): %v\n%s", err, out)
				}
				if want := format; want != "" && back.Format != want {
					t.Errorf("format %q, want %q", back.Format, want)
				}
				if got, want := withoutLocs(back.Operations), withoutLocs(api.Operations); !reflect.DeepEqual(got, want) {
					t.Errorf("operations differ after the round trip\n got: %s\nwant: %s", marshalGolden(t, got), marshalGolden(t, want))
				}
				if !reflect.DeepEqual(back.Stages, api.Stages) || back.BasePath != api.BasePath || back.Name != api.Name || back.Version != api.Version {
					t.Errorf("API fields differ after the round trip: %+v %q, want %+v %q", back.Stages, back.BasePath, api.Stages, api.BasePath)
				}
				if len(back.Authorizers) != len(api.Authorizers) || len(back.GatewayResponses) != len(api.GatewayResponses) {
					t.Errorf("%d authorizers and %d gateway responses after the round trip, want %d and %d", len(back.Authorizers), len(back.GatewayResponses), len(api.Authorizers), len(api.GatewayResponses))
				}
				if format == "" {
					golden(t, filepath.Join("testdata", "export", strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))+".yaml"), out)
				}
			})
		}
	}
}
