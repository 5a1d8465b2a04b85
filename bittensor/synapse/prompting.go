package synapse

import "errors"

// Prompting is text-prompting's Prompting synapse (prompting/protocol.py): the
// validator sends roles and messages, the miner fills completion. Both lists are
// required (no default); the hash field is messages.
type Prompting struct {
	Synapse
	Roles      []string `json:"roles"`
	Messages   []string `json:"messages"`
	Completion string   `json:"completion"`
}

// StreamPrompting is text-prompting's streaming variant: the same fields, served as a
// text/event-stream of raw completion chunks.
type StreamPrompting struct {
	Prompting
}

var (
	promptingHashFields = []string{"messages"}
	promptingRequired   = []InputObj{{"roles", "[]"}, {"messages", "[]"}}
)

// NewPrompting returns a Prompting with the class defaults (timeout 12 s).
func NewPrompting(roles, messages []string) *Prompting {
	return &Prompting{Synapse: Synapse{Name: "Prompting", Timeout: DefaultTimeout}, Roles: roles, Messages: messages}
}

// NewStreamPrompting returns a StreamPrompting with the class defaults.
func NewStreamPrompting(roles, messages []string) *StreamPrompting {
	p := NewPrompting(roles, messages)
	p.Name = "StreamPrompting"
	return &StreamPrompting{Prompting: *p}
}

// ClassName implements Message.
func (p *Prompting) ClassName() string { return "Prompting" }

// HashFieldNames implements Message.
func (p *Prompting) HashFieldNames() []string { return promptingHashFields }

// AppendHashInputs implements Message: str(messages).
func (p *Prompting) AppendHashInputs(dst []string, prof Profile) []string {
	return append(dst, PyStrList(p.Messages, prof))
}

// RequiredFields implements Message.
func (p *Prompting) RequiredFields() []InputObj { return promptingRequired }

// Validate implements Message: roles and messages must be present lists.
func (p *Prompting) Validate() error {
	switch {
	case p.Roles == nil:
		return errors.New("field required: roles")
	case p.Messages == nil:
		return errors.New("field required: messages")
	}
	return nil
}

// ClassName implements Message.
func (p *StreamPrompting) ClassName() string { return "StreamPrompting" }
