package bundle

import (
	"fmt"
	"sort"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/request"
)

// PublishedFormat is the published-state file's "format".
const PublishedFormat = "conclave-published/1"

// ParsePublished reads the repository's published state: for each project
// whose keys it has published (PEP 480's recently-claimed projects), the
// keyset. It comes from the same possibly compromised server as the
// requests, so it is a record of what the repository claimed, not proof.
//
//	{"format":"conclave-published/1",
//	 "projects":{"<normalised name>":{"keyids":[…],"threshold":n}, …}}
func ParsePublished(data []byte, maxDepth, maxName int) (map[string]request.Keyset, error) {
	v, err := cjson.ParseWith(data, cjson.Options{MaxDepth: maxDepth})
	if err != nil {
		return nil, err
	}
	if v.Kind() != cjson.Object || len(v.Members()) != 2 {
		return nil, fmt.Errorf("must be an object with exactly format and projects")
	}
	f, _ := v.Get("format")
	ps, ok := v.Get("projects")
	if !ok || f.Kind() != cjson.String || ps.Kind() != cjson.Object {
		return nil, fmt.Errorf("must be an object with exactly format (a string) and projects (an object)")
	}
	if f.Str() != PublishedFormat {
		return nil, fmt.Errorf("format: is %q; this version of Conclave reads %q", f.Str(), PublishedFormat)
	}
	out := make(map[string]request.Keyset, len(ps.Members()))
	for _, m := range ps.Members() {
		p := cjson.PathField("projects", m.Name)
		n, err := request.Normalize(m.Name, maxName)
		if err != nil || n != m.Name {
			return nil, fmt.Errorf("%s: project names must be written normalised (PEP 503)", p)
		}
		ks, err := keyset(m.Value, p)
		if err != nil {
			return nil, err
		}
		out[m.Name] = ks
	}
	return out, nil
}

func keyset(v cjson.Value, p string) (request.Keyset, error) {
	o, err := object(v, p, "keyids", "threshold")
	if err != nil {
		return request.Keyset{}, err
	}
	ids := o["keyids"]
	if ids.Kind() != cjson.Array || len(ids.Items()) == 0 {
		return request.Keyset{}, fmt.Errorf("%s.keyids: must be a non-empty array of keyids", p)
	}
	list := make([]string, len(ids.Items()))
	for i, id := range ids.Items() {
		if id.Kind() != cjson.String || len(id.Str()) != 64 {
			return request.Keyset{}, fmt.Errorf("%s: must be a keyid (64 hex digits)", cjson.PathIndex(p+".keyids", i))
		}
		list[i] = id.Str()
	}
	th, err := integer(o, p, "threshold", 1)
	if err != nil {
		return request.Keyset{}, err
	}
	return request.NewKeyset(list, th), nil
}

// EncodePublished writes a published-state file.
func EncodePublished(projects map[string]request.Keyset) []byte {
	names := make([]string, 0, len(projects))
	for n := range projects {
		names = append(names, n)
	}
	sort.Strings(names)
	ms := make([]cjson.Member, len(names))
	for i, n := range names {
		ms[i] = cjson.Member{Name: n, Value: projects[n].Value()}
	}
	return cjson.ObjectValue(
		cjson.Member{Name: "format", Value: cjson.StringValue(PublishedFormat)},
		cjson.Member{Name: "projects", Value: cjson.ObjectValue(ms...)},
	).Canonical()
}
