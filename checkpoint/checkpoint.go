// Package checkpoint reads model weights from Hugging Face checkpoint directories:
// safetensors files (single, or sharded through model.safetensors.index.json) and
// PyTorch zip checkpoints written by torch.save (pytorch_model.bin, or sharded through
// pytorch_model.bin.index.json).
//
// Files are memory-mapped read-only where the platform allows it (otherwise read with
// pread) and converted to float32 one tensor at a time, so a caller never holds two full
// copies of the weights. Upcasting from bfloat16 and float16 is exact.
//
// Every file is treated as hostile: header sizes are bounded, offsets, shapes and strides
// are checked against the file before any data is touched, and the pickle reader used for
// PyTorch checkpoints understands only the opcodes and globals a state dict needs; it
// never imports or executes anything.
package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// DType is the element type of a stored tensor.
type DType uint8

// Element types found in safetensors and PyTorch checkpoints.
const (
	F32 DType = iota + 1
	F16
	BF16
	F64
	I64
	I32
	I16
	I8
	U8
	Bool
)

var dtypeInfo = map[DType]struct {
	name string
	size int
}{
	F32: {"F32", 4}, F16: {"F16", 2}, BF16: {"BF16", 2}, F64: {"F64", 8},
	I64: {"I64", 8}, I32: {"I32", 4}, I16: {"I16", 2}, I8: {"I8", 1}, U8: {"U8", 1}, Bool: {"BOOL", 1},
}

// String returns the safetensors spelling of the type ("BF16", "F32", ...).
func (d DType) String() string {
	if i, ok := dtypeInfo[d]; ok {
		return i.name
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the size of one element in bytes (0 for an unknown type).
func (d DType) Size() int { return dtypeInfo[d].size }

// IsFloat reports whether ReadFloat32 can convert this type.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// TensorInfo describes one named tensor.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Source is a read-only collection of named tensors.
type Source interface {
	// Tensors lists every tensor, sorted by name.
	Tensors() []TensorInfo
	// Lookup returns the description of one tensor.
	Lookup(name string) (TensorInfo, bool)
	// ReadFloat32 converts the named tensor to float32 into dst, whose length must equal
	// the tensor's element count. Elements are written in row-major order of Shape.
	ReadFloat32(name string, dst []float32) error
}

// Limits on hostile input.
const (
	maxSafetensorsHeader = 100 << 20 // the safetensors reference implementation's limit
	maxPickleSize        = 32 << 20  // a 3B state dict's data.pkl is about 30 KB
	maxPickleItems       = 1 << 20   // memo entries, stack items and marks
	maxIndexSize         = 64 << 20
	maxDims              = 8
	maxElements          = 1 << 40
)

// ErrNotFound is returned (wrapped) when a tensor or checkpoint file does not exist.
var ErrNotFound = errors.New("not found")

// Checkpoint is a set of tensors backed by one or more open files. It implements Source.
// It is safe for concurrent reads. Close releases the files; reads after Close fail.
type Checkpoint struct {
	format  string
	tensors map[string]*tensorEntry
	files   []*dataFile
	closed  bool
}

// Format names the on-disk format: "safetensors" or "pytorch".
func (c *Checkpoint) Format() string { return c.format }

// Tensors lists every tensor, sorted by name.
func (c *Checkpoint) Tensors() []TensorInfo {
	out := make([]TensorInfo, 0, len(c.tensors))
	for _, e := range c.tensors {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the description of one tensor.
func (c *Checkpoint) Lookup(name string) (TensorInfo, bool) {
	e, ok := c.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	return e.info, true
}

// ReadFloat32 converts the named tensor to float32 into dst.
func (c *Checkpoint) ReadFloat32(name string, dst []float32) error {
	if c.closed {
		return fmt.Errorf("read %s: checkpoint is closed", name)
	}
	e, ok := c.tensors[name]
	if !ok {
		return fmt.Errorf("read %s: tensor %w", name, ErrNotFound)
	}
	if err := e.readFloat32(dst); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// Close unmaps and closes the files.
func (c *Checkpoint) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var first error
	for _, f := range c.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openFile opens a one-file checkpoint of the given format, whose tensors add reads;
// what names the format in errors.
func openFile(path, format, what string, add func(*Checkpoint, *dataFile) error) (*Checkpoint, error) {
	f, err := openDataFile(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	c := &Checkpoint{format: format, tensors: map[string]*tensorEntry{}, files: []*dataFile{f}}
	if err := add(c, f); err != nil {
		c.Close()
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	return c, nil
}

// Checkpoint file names looked for in a directory, in order of preference.
const (
	SafetensorsFile      = "model.safetensors"
	SafetensorsIndexFile = "model.safetensors.index.json"
	TorchFile            = "pytorch_model.bin"
	TorchIndexFile       = "pytorch_model.bin.index.json"
)

// Open opens a checkpoint. path is either a directory, searched for (in this order)
// model.safetensors, model.safetensors.index.json, pytorch_model.bin and
// pytorch_model.bin.index.json, or one such file: a *.safetensors file, a torch zip
// file, or an *.index.json shard index.
func Open(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if st.IsDir() {
		for _, name := range []string{SafetensorsFile, SafetensorsIndexFile, TorchFile, TorchIndexFile} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return Open(p)
			}
		}
		return nil, fmt.Errorf("open checkpoint: no %s, %s, %s or %s in %s: %w",
			SafetensorsFile, SafetensorsIndexFile, TorchFile, TorchIndexFile, path, ErrNotFound)
	}
	base := filepath.Base(path)
	switch {
	case hasSuffix(base, ".index.json"):
		return openIndex(path)
	case hasSuffix(base, ".safetensors"):
		return OpenSafetensors(path)
	default:
		return OpenTorch(path)
	}
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// checkedNumElements multiplies a shape, rejecting negative dimensions and overflow.
func checkedNumElements(shape []int) (int, error) {
	if len(shape) > maxDims {
		return 0, fmt.Errorf("%d dimensions (at most %d)", len(shape), maxDims)
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}
