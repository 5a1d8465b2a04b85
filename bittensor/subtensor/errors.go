package subtensor

import "errors"

// ModuleError is a dispatch error raised by a pallet (DispatchError::Module), named
// from the runtime metadata's error enum, e.g. SubtensorModule.InvalidIpAddress.
type ModuleError struct {
	Pallet string
	Name   string
	Docs   string
}

// Error returns "Pallet.Name", with ": docs" when the metadata documents the error.
func (e *ModuleError) Error() string {
	s := e.Pallet + "." + e.Name
	if e.Docs != "" {
		s += ": " + e.Docs
	}
	return s
}

// Is matches another *ModuleError with the same pallet and name, so callers can test
// errors.Is(err, &ModuleError{Pallet: "SubtensorModule", Name: "NotRegistered"}).
func (e *ModuleError) Is(target error) bool {
	t, ok := target.(*ModuleError)
	return ok && t.Pallet == e.Pallet && t.Name == e.Name
}

// DispatchError is any other failed dispatch (BadOrigin, Token, Arithmetic, ...),
// named by its variant.
type DispatchError struct{ Kind, Detail string }

// Error returns "dispatch error: KIND", with the detail when there is one.
func (e *DispatchError) Error() string {
	if e.Detail == "" {
		return "dispatch error: " + e.Kind
	}
	return "dispatch error: " + e.Kind + " " + e.Detail
}

// ErrInvalidTransaction is returned when the node rejects an extrinsic before it enters
// a block (bad signature, stale nonce, pool limits, ...); the error text carries the
// node's reason.
var ErrInvalidTransaction = errors.New("transaction rejected by the node")

// ErrTxDropped is returned when a submitted extrinsic left the pool without being
// included (dropped, usurped, invalid).
var ErrTxDropped = errors.New("transaction dropped from the pool")
