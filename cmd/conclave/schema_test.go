package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// checkSchema checks doc against the parts of a JSON Schema in
// docs/formats/schema that the listings use: object members (required,
// and no member the schema does not name when additionalProperties is
// false), array items, const, enum, and the JSON type of each value. A
// $ref is taken as satisfied (the shared definitions are checked by
// check_examples.py). It keeps the --json output and its schema from
// drifting apart.
func checkSchema(t *testing.T, schemaFile string, doc []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../docs/formats/schema", schemaFile))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for _, e := range schemaErrors(schema, v, "$") {
		t.Errorf("%s: %s", schemaFile, e)
	}
}

func schemaErrors(s map[string]any, v any, at string) []string {
	if _, ref := s["$ref"]; ref {
		return nil
	}
	var errs []string
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		errs = append(errs, fmt.Sprintf("%s is %v, want %v", at, v, c))
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || reflect.DeepEqual(e, v)
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s is %v, not one of %v", at, v, enum))
		}
	}
	typ, _ := s["type"].(string)
	switch val := v.(type) {
	case map[string]any:
		if typ != "object" {
			return append(errs, fmt.Sprintf("%s is an object, want %s", at, typ))
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range s["required"].([]any) {
			if _, ok := val[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s lacks %s", at, r))
			}
		}
		for k, sub := range val {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					errs = append(errs, fmt.Sprintf("%s.%s is not in the schema", at, k))
				}
				continue
			}
			errs = append(errs, schemaErrors(ps, sub, at+"."+k)...)
		}
	case []any:
		if typ != "array" {
			return append(errs, fmt.Sprintf("%s is an array, want %s", at, typ))
		}
		items, _ := s["items"].(map[string]any)
		for i, sub := range val {
			errs = append(errs, schemaErrors(items, sub, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case string:
		if typ != "string" && typ != "" {
			errs = append(errs, fmt.Sprintf("%s is a string, want %s", at, typ))
		}
	case bool:
		if typ != "boolean" && typ != "" {
			errs = append(errs, fmt.Sprintf("%s is a boolean, want %s", at, typ))
		}
	case float64:
		if typ != "integer" && typ != "number" && typ != "" {
			errs = append(errs, fmt.Sprintf("%s is a number, want %s", at, typ))
		}
	}
	return errs
}
