// Package synapse holds the Bittensor synapse types that travel between a dendrite
// (client) and an axon (server): the base Synapse with its two TerminalInfo records,
// the text-prompting Prompting and StreamPrompting synapses, their JSON bodies in the
// shapes bittensor 6.1.0 (pydantic v1) and 10.x (pydantic v2) send, the HTTP header
// encoding (Synapse.to_headers / from_headers), and computed_body_hash, which is
// SHA3-256 over CPython's str() of each hash field.
//
// Reference: ../shared/reference/axon-protocol.md §1-§3 (bittensor v6.1.0
// bittensor/synapse.py, v10.2.0 bittensor/core/synapse.py, opentensor/text-prompting
// prompting/protocol.py).
package synapse

import (
	"crypto/rand"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Version integers carried in bt_header_*_version.
const (
	// Version610 is bittensor 6.1.0 (100*major + 10*minor + patch).
	Version610 = 610
	// Version10_2_0 is bittensor 10.2.0 (major*1000² + minor*1000 + patch).
	Version10_2_0 = 10002000
	// Version7_2_0 is the first version whose nonces are checked against a wall-clock window.
	Version7_2_0 = 7002000
)

// DefaultTimeout is Synapse.timeout's default in seconds.
const DefaultTimeout = 12.0

// Float is a float64 that marshals to JSON the way Python's json.dumps writes a float
// (repr: 12.0, 0.1, 1e-05), so bodies look like a Python dendrite's.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("synapse: cannot encode %v as JSON", v)
	}
	return appendPyFloat(nil, v), nil
}

// TerminalInfo describes one end of a call (bittensor TerminalInfo). Every field is
// optional: nil encodes as JSON null and is left out of headers.
type TerminalInfo struct {
	StatusCode    *int    `json:"status_code"`
	StatusMessage *string `json:"status_message"`
	ProcessTime   *Float  `json:"process_time"`
	IP            *string `json:"ip"`
	Port          *int    `json:"port"`
	Version       *int    `json:"version"`
	Nonce         *int64  `json:"nonce"`
	UUID          *string `json:"uuid"`
	Hotkey        *string `json:"hotkey"`
	Signature     *string `json:"signature"`
}

// Synapse is the base synapse (bittensor Synapse) in model field order.
// RequiredHashFields is a model field in 6.1.0 and a ClassVar (absent from JSON) in
// 10.x; leave it nil for the 10.x shape. The server never trusts it.
type Synapse struct {
	Name               string       `json:"name"`
	Timeout            Float        `json:"timeout"`
	TotalSize          int64        `json:"total_size"`
	HeaderSize         int64        `json:"header_size"`
	Dendrite           TerminalInfo `json:"dendrite"`
	Axon               TerminalInfo `json:"axon"`
	ComputedBodyHash   string       `json:"computed_body_hash"`
	RequiredHashFields []string     `json:"required_hash_fields,omitempty"`
}

// Message is implemented by every synapse type: the base Synapse (the /Synapse ping),
// Prompting and StreamPrompting. New synapse types implement it to be served.
type Message interface {
	// Base returns the embedded base synapse.
	Base() *Synapse
	// ClassName is the Python class name, which is also the axon route.
	ClassName() string
	// HashFieldNames is the server-side required_hash_fields list, in model field order.
	HashFieldNames() []string
	// AppendHashInputs appends CPython str() of each hash field, in the same order.
	AppendHashInputs(dst []string, p Profile) []string
	// RequiredFields names the fields without defaults (one bt_header_input_obj_* each)
	// with the JSON of their type's empty value.
	RequiredFields() []InputObj
	// Validate reports a body that lacks a required field.
	Validate() error
}

// InputObj is a required field announced in a bt_header_input_obj_<Name> header,
// whose value is base64(EmptyJSON).
type InputObj struct {
	Name      string
	EmptyJSON string
}

// Base implements Message.
func (s *Synapse) Base() *Synapse { return s }

// ClassName implements Message.
func (s *Synapse) ClassName() string { return "Synapse" }

// HashFieldNames implements Message: the base synapse hashes nothing.
func (s *Synapse) HashFieldNames() []string { return nil }

// AppendHashInputs implements Message.
func (s *Synapse) AppendHashInputs(dst []string, _ Profile) []string { return dst }

// RequiredFields implements Message.
func (s *Synapse) RequiredFields() []InputObj { return nil }

// Validate implements Message.
func (s *Synapse) Validate() error { return nil }

// SHA3Hex returns the lowercase hex FIPS-202 SHA3-256 of s (bittensor utils.hash).
func SHA3Hex(s []byte) string {
	sum := sha3.Sum256(s)
	return hex.EncodeToString(sum[:])
}

// BodyHashOf combines per-field str() inputs into computed_body_hash:
// sha3_hex(sha3_hex(in_1) + sha3_hex(in_2) + ...).
func BodyHashOf(inputs []string) string {
	cat := make([]byte, 0, 64*len(inputs))
	for _, in := range inputs {
		sum := sha3.Sum256([]byte(in))
		cat = hex.AppendEncode(cat, sum[:])
	}
	return SHA3Hex(cat)
}

// BodyHash returns m's computed_body_hash under profile p, from the server-side hash
// field list.
func BodyHash(m Message, p Profile) string {
	var buf [4]string
	return BodyHashOf(m.AppendHashInputs(buf[:0], p))
}

// MatchBodyHash reports whether want equals m's body hash under any supported
// Unicode profile. The default profile is tried first; the others only when a hash
// input contains a character whose printability differs between them.
func MatchBodyHash(m Message, want string) (Profile, bool) {
	var buf [4]string
	inputs := m.AppendHashInputs(buf[:0], DefaultProfile)
	if BodyHashOf(inputs) == want {
		return DefaultProfile, true
	}
	sensitive := false
	for _, in := range inputs {
		if needsProfile(in) {
			sensitive = true
			break
		}
	}
	if !sensitive {
		return DefaultProfile, false
	}
	for _, p := range Profiles[1:] {
		if BodyHash(m, p) == want {
			return p, true
		}
	}
	return DefaultProfile, false
}

// Decode parses a JSON request body into m (unknown fields are ignored, as pydantic
// does), forces the name to the class name and checks required fields.
func Decode(body []byte, m Message) error {
	if err := json.Unmarshal(body, m); err != nil {
		return fmt.Errorf("decode %s body: %w", m.ClassName(), err)
	}
	m.Base().Name = m.ClassName()
	return m.Validate()
}

// Ptr returns a pointer to v; handy for TerminalInfo fields.
func Ptr[T any](v T) *T { return &v }

// itoa is strconv.Itoa for the int sizes used here.
func itoa[T int | int64](v T) string { return strconv.FormatInt(int64(v), 10) }

// NewUUID returns a random uuid in the form str(uuid.uuid1()) takes (version 1,
// RFC 4122 variant), as the Python axon and dendrite stamp on their TerminalInfo. Its
// bits are random: it identifies an instance, it is not a timestamp.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x10
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
