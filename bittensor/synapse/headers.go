package synapse

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Header name prefixes and names (bittensor Synapse.to_headers). They are lowercase
// on the wire: Python peers match them case-sensitively, so write them into an
// http.Header by direct map assignment (SetHeader), never with Header.Set.
const (
	PrefixAxon     = "bt_header_axon_"
	PrefixDendrite = "bt_header_dendrite_"
	PrefixInputObj = "bt_header_input_obj_"
)

// Bounds on header values accepted by ParseHeaders.
const (
	MaxHeaderValue   = 512  // any bt_header_axon_*/bt_header_dendrite_*/plain header
	MaxInputObjValue = 4096 // a bt_header_input_obj_* value (base64)
	MaxInputObjs     = 32
)

// Header is one name/value pair in the order a Python dendrite emits them.
type Header struct{ Name, Value string }

// SetHeader writes name (already lowercase) into h without canonicalisation.
func SetHeader(h http.Header, name, value string) { h[name] = []string{value} }

// EncodeHeaders returns the request headers of m the way Synapse.to_headers builds
// them: name, timeout, the non-nil axon and dendrite fields, one
// bt_header_input_obj_<field> per required field (base64 of the JSON of the field
// type's empty value, never the real value), header_size, total_size and
// computed_body_hash.
func EncodeHeaders(m Message) []Header {
	b := m.Base()
	hs := make([]Header, 0, 24)
	hs = append(hs, Header{"name", m.ClassName()}, Header{"timeout", PyFloatRepr(float64(b.Timeout))})
	hs = TerminalHeaders(hs, PrefixAxon, &b.Axon)
	hs = TerminalHeaders(hs, PrefixDendrite, &b.Dendrite)
	for _, f := range m.RequiredFields() {
		hs = append(hs, Header{PrefixInputObj + f.Name, base64.StdEncoding.EncodeToString([]byte(f.EmptyJSON))})
	}
	hs = append(hs, Header{"header_size", itoa(b.HeaderSize)}, Header{"total_size", itoa(b.TotalSize)},
		Header{"computed_body_hash", b.ComputedBodyHash})
	return hs
}

// TerminalHeaders appends the non-nil fields of t to hs as prefix+field headers, in
// TerminalInfo field order.
func TerminalHeaders(hs []Header, prefix string, t *TerminalInfo) []Header {
	if t.StatusCode != nil {
		hs = append(hs, Header{prefix + "status_code", itoa(*t.StatusCode)})
	}
	if t.StatusMessage != nil {
		hs = append(hs, Header{prefix + "status_message", *t.StatusMessage})
	}
	if t.ProcessTime != nil {
		hs = append(hs, Header{prefix + "process_time", PyFloatRepr(float64(*t.ProcessTime))})
	}
	if t.IP != nil {
		hs = append(hs, Header{prefix + "ip", *t.IP})
	}
	if t.Port != nil {
		hs = append(hs, Header{prefix + "port", itoa(*t.Port)})
	}
	if t.Version != nil {
		hs = append(hs, Header{prefix + "version", itoa(*t.Version)})
	}
	if t.Nonce != nil {
		hs = append(hs, Header{prefix + "nonce", itoa(*t.Nonce)})
	}
	if t.UUID != nil {
		hs = append(hs, Header{prefix + "uuid", *t.UUID})
	}
	if t.Hotkey != nil {
		hs = append(hs, Header{prefix + "hotkey", *t.Hotkey})
	}
	if t.Signature != nil {
		hs = append(hs, Header{prefix + "signature", *t.Signature})
	}
	return hs
}

// HeaderView is the header-only synapse a server sees before reading the body
// (Synapse.from_headers), or the response metadata a client reads.
type HeaderView struct {
	Name             string
	Timeout          float64 // DefaultTimeout when the header is absent
	HasTimeout       bool
	TotalSize        int64
	HeaderSize       int64
	ComputedBodyHash string
	Dendrite         TerminalInfo
	Axon             TerminalInfo
	// InputObjs maps a field name to the decoded JSON of its bt_header_input_obj_* header.
	InputObjs map[string]json.RawMessage
}

// HeaderError is a malformed header; its message is safe to return to the client.
type HeaderError struct{ Name, Problem string }

// Error returns "header NAME: problem".
func (e *HeaderError) Error() string { return "header " + e.Name + ": " + e.Problem }

// ParseHeaders reads the synapse headers from h, matching names case-insensitively
// (Go canonicalises incoming names). Values are parsed the way pydantic coerces them
// (int(...)/float(...)), every value is bounded, and a repeated bt header is an
// error. Unknown headers are ignored.
func ParseHeaders(h http.Header) (*HeaderView, error) {
	v := &HeaderView{Timeout: DefaultTimeout}
	for key, vals := range h {
		if len(key) < 4 {
			continue
		}
		lower := key
		if hasUpper(key) {
			lower = strings.ToLower(key)
		}
		var err error
		switch {
		case strings.HasPrefix(lower, "bt_header_"):
			if len(vals) != 1 {
				return nil, &HeaderError{lower, "repeated"}
			}
			err = v.setBT(lower, vals[0])
		case lower == "name" || lower == "timeout" || lower == "header_size" || lower == "total_size" || lower == "computed_body_hash":
			if len(vals) != 1 {
				return nil, &HeaderError{lower, "repeated"}
			}
			err = v.setPlain(lower, vals[0])
		}
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func (v *HeaderView) setPlain(name, val string) error {
	if len(val) > MaxHeaderValue {
		return &HeaderError{name, "too long"}
	}
	var err error
	switch name {
	case "name":
		v.Name = val
	case "timeout":
		v.Timeout, err = parsePyFloat(val)
		v.HasTimeout = err == nil
	case "header_size":
		v.HeaderSize, err = parsePyInt(val)
	case "total_size":
		v.TotalSize, err = parsePyInt(val)
	case "computed_body_hash":
		v.ComputedBodyHash = val
	}
	if err != nil {
		return &HeaderError{name, err.Error()}
	}
	return nil
}

func (v *HeaderView) setBT(name, val string) error {
	if strings.HasPrefix(name, PrefixInputObj) {
		field := name[len(PrefixInputObj):]
		if len(val) > MaxInputObjValue {
			return &HeaderError{name, "too long"}
		}
		if len(v.InputObjs) >= MaxInputObjs {
			return &HeaderError{name, "too many input_obj headers"}
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val))
		if err != nil || !json.Valid(raw) {
			return &HeaderError{name, "not base64 JSON"}
		}
		if v.InputObjs == nil {
			v.InputObjs = map[string]json.RawMessage{}
		}
		v.InputObjs[field] = raw
		return nil
	}
	if len(val) > MaxHeaderValue {
		return &HeaderError{name, "too long"}
	}
	var t *TerminalInfo
	var field string
	switch {
	case strings.HasPrefix(name, PrefixAxon):
		t, field = &v.Axon, name[len(PrefixAxon):]
	case strings.HasPrefix(name, PrefixDendrite):
		t, field = &v.Dendrite, name[len(PrefixDendrite):]
	default:
		return nil // bt_header_tensor_* etc. (6.1.0 tensor headers): not used here
	}
	if err := setTerminalField(t, field, val); err != nil {
		return &HeaderError{name, err.Error()}
	}
	return nil
}

func setTerminalField(t *TerminalInfo, field, val string) error {
	switch field {
	case "status_code":
		n, err := parsePyIntSized(val, 32)
		if err != nil {
			return err
		}
		t.StatusCode = Ptr(int(n))
	case "status_message":
		t.StatusMessage = Ptr(val)
	case "process_time":
		f, err := parsePyFloat(val)
		if err != nil {
			return err
		}
		t.ProcessTime = Ptr(Float(f))
	case "ip":
		t.IP = Ptr(val)
	case "port":
		n, err := parsePyIntSized(val, 32)
		if err != nil {
			return err
		}
		t.Port = Ptr(int(n))
	case "version":
		n, err := parsePyIntSized(val, 32)
		if err != nil {
			return err
		}
		t.Version = Ptr(int(n))
	case "nonce":
		n, err := parsePyInt(val)
		if err != nil {
			return err
		}
		t.Nonce = Ptr(n)
	case "uuid":
		t.UUID = Ptr(val)
	case "hotkey":
		t.Hotkey = Ptr(val)
	case "signature":
		t.Signature = Ptr(val)
	}
	return nil
}

func parsePyInt(s string) (int64, error) { return parsePyIntSized(s, 64) }

// parsePyIntSized accepts what Python int() accepts for decimal strings that fit:
// surrounding whitespace, an optional sign and digits with single underscores between them.
func parsePyIntSized(s string, bits int) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "_") {
		if strings.Contains(s, "__") || strings.HasSuffix(s, "_") || strings.HasPrefix(strings.TrimLeft(s, "+-"), "_") {
			return 0, fmt.Errorf("invalid integer %q", truncate(s, 32))
		}
		s = strings.ReplaceAll(s, "_", "")
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("invalid integer %q", truncate(s, 32))
	}
	return n, nil
}

func parsePyFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.ContainsAny(t, "xX_pP") { // no hex floats or underscores in this tiny parser
		return 0, fmt.Errorf("invalid float %q", truncate(t, 32))
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid float %q", truncate(t, 32))
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
