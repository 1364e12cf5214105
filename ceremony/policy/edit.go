package policy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Edit is a change to a policy's holders and thresholds, as a rotation
// asks for it on its command line (conclave rotate --add, --remove,
// --threshold).
type Edit struct {
	// Add places keys: each in the holder of its name (a new holder when
	// the policy names none), with the roles given.
	Add []AddedKey
	// Remove drops these holders, with all their keys.
	Remove []string
	// RemoveKeys drops these keys (by keyid) from their holders: a holder
	// replacing a token adds the new key and removes the old.
	RemoveKeys []string
	// Thresholds sets roles.ROLE.threshold.
	Thresholds map[string]int64
}

// AddedKey is a key to add to a holder.
type AddedKey struct {
	Holder  string
	Contact string
	Key     HolderKey
	Roles   []string
}

// Apply returns the policy file data with the edit made, checked as
// Parse checks any policy (so an edit that breaks a rule is refused with
// the rule). Comments and the order of everything else stay; the file is
// written out again by the YAML encoder, two spaces an indent, so the
// holders review the result (its hash changes) before it is bound.
func (e Edit) Apply(name string, data []byte) ([]byte, error) {
	doc, err := readDocument(name, data)
	if err != nil {
		return nil, err
	}
	if doc.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: doc.Line, Msg: "the policy is not a mapping"}
	}
	holders := mappingValue(doc, "holders")
	if holders == nil || holders.Kind != yaml.SequenceNode {
		return nil, &Error{File: name, Msg: "the policy has no holders list to edit"}
	}
	for _, who := range e.Remove {
		i := slices.IndexFunc(holders.Content, func(h *yaml.Node) bool { return holderName(h) == who })
		if i < 0 {
			return nil, fmt.Errorf("policy %s: no holder %s to remove", name, who)
		}
		holders.Content = slices.Delete(holders.Content, i, i+1)
	}
	for _, id := range e.RemoveKeys {
		found := false
		for _, h := range holders.Content {
			keys := mappingValue(h, "keys")
			if keys == nil || keys.Kind != yaml.SequenceNode {
				continue
			}
			if i := slices.IndexFunc(keys.Content, func(k *yaml.Node) bool { v := mappingValue(k, "keyid"); return v != nil && v.Value == id }); i >= 0 {
				keys.Content = slices.Delete(keys.Content, i, i+1)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("policy %s: no key %s to remove", name, id)
		}
	}
	for _, a := range e.Add {
		key := keyNode(a)
		i := slices.IndexFunc(holders.Content, func(h *yaml.Node) bool { return holderName(h) == a.Holder })
		if i >= 0 {
			keys := mappingValue(holders.Content[i], "keys")
			if keys == nil || keys.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("policy %s: holder %s has no keys list to add to", name, a.Holder)
			}
			keys.Content = append(keys.Content, key)
			continue
		}
		h := &yaml.Node{Kind: yaml.MappingNode}
		h.Content = append(h.Content, scalar("name"), scalar(a.Holder))
		if a.Contact != "" {
			h.Content = append(h.Content, scalar("contact"), scalar(a.Contact))
		}
		h.Content = append(h.Content, scalar("keys"), &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{key}})
		holders.Content = append(holders.Content, h)
	}
	roles := mappingValue(doc, "roles")
	for _, role := range slices.Sorted(maps.Keys(e.Thresholds)) {
		if roles == nil {
			roles = &yaml.Node{Kind: yaml.MappingNode}
			doc.Content = append(doc.Content, scalar("roles"), roles)
		}
		r := mappingValue(roles, role)
		if r == nil {
			r = &yaml.Node{Kind: yaml.MappingNode}
			roles.Content = append(roles.Content, scalar(role), r)
		}
		setScalar(r, "threshold", strconv.FormatInt(e.Thresholds[role], 10), "!!int")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("policy %s: write the edited policy: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("policy %s: write the edited policy: %w", name, err)
	}
	if _, err := Parse(name, b.Bytes()); err != nil {
		return nil, fmt.Errorf("the edited policy: %w", err)
	}
	return b.Bytes(), nil
}

// mappingValue is the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func holderName(h *yaml.Node) string {
	if v := mappingValue(h, "name"); v != nil {
		return v.Value
	}
	return ""
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// setScalar sets key in mapping n to a scalar of the tag.
func setScalar(n *yaml.Node, key, value, tag string) {
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, scalar(key), v)
}

// keyNode is a holder key as the policy writes it.
func keyNode(a AddedKey) *yaml.Node {
	k := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	k.Content = append(k.Content, scalar("keyid"), scalar(a.Key.KeyID), scalar("token"), scalar(a.Key.Token))
	switch a.Key.Token {
	case TokenYubiKey:
		k.Content = append(k.Content, scalar("serial"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(uint64(a.Key.Serial), 10)},
			scalar("slot"), scalar(a.Key.Slot))
	default:
		k.Content = append(k.Content, scalar("uri"), scalar(a.Key.URI))
	}
	if len(a.Roles) > 0 {
		rs := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, r := range a.Roles {
			rs.Content = append(rs.Content, scalar(r))
		}
		k.Content = append(k.Content, scalar("roles"), rs)
	}
	return k
}
