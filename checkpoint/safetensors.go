package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
)

// safetensors layout (huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON mapping tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section after the header) plus an optional
// "__metadata__" string map, then the data section.

var safetensorsDTypes = map[string]DType{
	"F32": F32, "F16": F16, "BF16": BF16, "F64": F64,
	"I64": I64, "I32": I32, "I16": I16, "I8": I8, "U8": U8, "BOOL": Bool,
}

type safetensorsEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// safetensorsTensor is one validated header entry.
type safetensorsTensor struct {
	info       TensorInfo
	begin, end int64 // byte range in the data section
}

// parseSafetensorsHeader validates the JSON header against a data section of dataLen
// bytes. It checks dtypes, shapes, that each byte range matches its shape exactly, lies
// inside the data section and does not overlap another.
func parseSafetensorsHeader(header []byte, dataLen int64) ([]safetensorsTensor, error) {
	if len(header) == 0 || header[0] != '{' {
		return nil, fmt.Errorf("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("header JSON: %w", err)
	}
	out := make([]safetensorsTensor, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e safetensorsEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		dt, ok := safetensorsDTypes[e.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("tensor %q: data_offsets must have 2 entries, has %d", name, len(e.DataOffsets))
		}
		if len(e.Shape) > maxDims {
			return nil, fmt.Errorf("tensor %q: %d dimensions (at most %d)", name, len(e.Shape), maxDims)
		}
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			if d < 0 || d > maxElements {
				return nil, fmt.Errorf("tensor %q: bad dimension %d", name, d)
			}
			shape[i] = int(d)
		}
		n, err := checkedNumElements(shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > dataLen {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d,%d] outside data section of %d bytes", name, begin, end, dataLen)
		}
		if want := int64(n) * int64(dt.Size()); end-begin != want {
			return nil, fmt.Errorf("tensor %q: %d bytes of data for %s%v (want %d)", name, end-begin, dt, shape, want)
		}
		out = append(out, safetensorsTensor{info: TensorInfo{Name: name, DType: dt, Shape: shape}, begin: begin, end: end})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].begin != out[j].begin {
			return out[i].begin < out[j].begin
		}
		return out[i].end < out[j].end
	})
	for i := 1; i < len(out); i++ {
		if out[i].begin < out[i-1].end {
			return nil, fmt.Errorf("tensors %q and %q overlap", out[i-1].info.Name, out[i].info.Name)
		}
	}
	return out, nil
}

// OpenSafetensors opens one .safetensors file.
func OpenSafetensors(path string) (*Checkpoint, error) {
	return openFile(path, "safetensors", "safetensors", (*Checkpoint).addSafetensors)
}

func (c *Checkpoint) addSafetensors(f *dataFile) error {
	if f.size < 8 {
		return fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", f.size)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		return fmt.Errorf("read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxSafetensorsHeader {
		return fmt.Errorf("header length %d exceeds the limit of %d bytes", n, maxSafetensorsHeader)
	}
	if int64(n) > f.size-8 {
		return fmt.Errorf("header length %d exceeds the file (%d bytes): truncated or not safetensors", n, f.size)
	}
	header := make([]byte, n)
	if _, err := f.ReadAt(header, 8); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	dataStart := 8 + int64(n)
	entries, err := parseSafetensorsHeader(header, f.size-dataStart)
	if err != nil {
		return err
	}
	for _, t := range entries {
		if _, dup := c.tensors[t.info.Name]; dup {
			return fmt.Errorf("tensor %q appears in more than one file", t.info.Name)
		}
		es := int64(t.info.DType.Size())
		st := &storage{file: f, off: dataStart + t.begin, dtype: t.info.DType, numel: (t.end - t.begin) / es}
		c.tensors[t.info.Name] = &tensorEntry{info: t.info, st: st}
	}
	return nil
}
