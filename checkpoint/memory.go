package checkpoint

import (
	"fmt"
	"sort"
)

// Memory is an in-memory Source of float32 tensors, for tests and synthetic models.
type Memory struct {
	tensors map[string]memTensor
}

type memTensor struct {
	info TensorInfo
	data []float32
}

// NewMemory returns an empty in-memory source.
func NewMemory() *Memory { return &Memory{tensors: map[string]memTensor{}} }

// Add stores a tensor (data is kept, not copied). len(data) must match the shape.
func (m *Memory) Add(name string, shape []int, data []float32) error {
	n, err := checkedNumElements(shape)
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if n != len(data) {
		return fmt.Errorf("add %s: shape %v needs %d elements, got %d", name, shape, n, len(data))
	}
	m.tensors[name] = memTensor{info: TensorInfo{Name: name, DType: F32, Shape: append([]int(nil), shape...)}, data: data}
	return nil
}

// Delete removes a tensor.
func (m *Memory) Delete(name string) { delete(m.tensors, name) }

// Tensors lists every tensor, sorted by name.
func (m *Memory) Tensors() []TensorInfo {
	out := make([]TensorInfo, 0, len(m.tensors))
	for _, t := range m.tensors {
		out = append(out, t.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the description of one tensor.
func (m *Memory) Lookup(name string) (TensorInfo, bool) {
	t, ok := m.tensors[name]
	return t.info, ok
}

// ReadFloat32 copies the named tensor into dst.
func (m *Memory) ReadFloat32(name string, dst []float32) error {
	t, ok := m.tensors[name]
	if !ok {
		return fmt.Errorf("read %s: tensor %w", name, ErrNotFound)
	}
	if len(dst) != len(t.data) {
		return fmt.Errorf("read %s: destination holds %d elements, tensor %v has %d", name, len(dst), t.info.Shape, len(t.data))
	}
	copy(dst, t.data)
	return nil
}
