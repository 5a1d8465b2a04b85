package subtensor

import (
	"context"
	"errors"
)

// Client is a connection to a subtensor node.
type Client struct{}

// Dial connects to url.
func Dial(ctx context.Context, url string) (*Client, error) { return nil, errors.New("not yet") }
