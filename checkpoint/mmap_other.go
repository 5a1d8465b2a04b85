//go:build !unix

package checkpoint

import (
	"errors"
	"os"
)

// Without mmap the files are read with ReadAt, one tensor at a time.
func mmapFile(f *os.File, size int64) ([]byte, error) { return nil, errors.New("mmap unsupported") }

func munmapFile(b []byte) error { return nil }
