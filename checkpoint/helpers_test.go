package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// memFile wraps bytes as a checkpoint file without touching the disk.
func memFile(b []byte) *dataFile { return &dataFile{path: "<memory>", data: b, size: int64(len(b))} }

// stTensor is a tensor for the safetensors writer.
type stTensor struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// buildSafetensors lays out tensors in order; edit may change the header map.
func buildSafetensors(t testing.TB, tensors []stTensor, edit func(map[string]any)) []byte {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, ts := range tensors {
		header[ts.name] = map[string]any{"dtype": ts.dtype, "shape": ts.shape,
			"data_offsets": []int{len(data), len(data) + len(ts.data)}}
		data = append(data, ts.data...)
	}
	if edit != nil {
		edit(header)
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

func f32Bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func u16Bytes(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// pickler writes protocol-2 pickles the way torch.save does.
type pickler struct{ bytes.Buffer }

func (p *pickler) op(b ...byte) *pickler { p.Write(b); return p }

func (p *pickler) str(s string) *pickler {
	p.WriteByte(opBinUnicode)
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
	return p
}

func (p *pickler) int(n int) *pickler {
	switch {
	case n >= 0 && n < 256:
		return p.op(opBinInt1, byte(n))
	case n >= 0 && n < 65536:
		return p.op(opBinInt2, byte(n), byte(n>>8))
	case n != int(int32(n)): // LONG1: 8 little-endian two's-complement bytes
		p.op(opLong1, 8)
		p.Write(binary.LittleEndian.AppendUint64(nil, uint64(n)))
		return p
	default:
		p.WriteByte(opBinInt)
		p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(n))))
		return p
	}
}

func (p *pickler) global(module, name string) *pickler {
	p.WriteByte(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

func (p *pickler) ints(v []int) *pickler {
	p.op(opMark)
	for _, n := range v {
		p.int(n)
	}
	return p.op(opTuple)
}

// torchTensor describes one state-dict entry for buildTorchPickle.
type torchTensor struct {
	name, key, storageType string
	numel, offset          int
	shape, stride          []int
}

// buildTorchPickle writes an OrderedDict state dict (with a _metadata BUILD, as
// nn.Module.state_dict() produces) of _rebuild_tensor_v2 calls.
func buildTorchPickle(tensors []torchTensor) []byte {
	p := &pickler{}
	p.op(opProto, 2)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.op(opMark)
	for _, ts := range tensors {
		p.str(ts.name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.op(opMark)
		p.op(opMark).str("storage").global("torch", ts.storageType).str(ts.key).str("cpu").int(ts.numel).op(opTuple)
		p.op(opBinPersID)
		p.int(ts.offset).ints(ts.shape).ints(ts.stride).op(opNewFalse)
		p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
		p.op(opTuple, opReduce)
	}
	p.op(opSetItems)
	// state: {"_metadata": OrderedDict({"": {"version": 1}})}
	p.op(opEmptyDict).str("_metadata").global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.str("").op(opEmptyDict).str("version").int(1).op(opSetItem).op(opSetItem).op(opSetItem)
	p.op(opBuild, opStop)
	return p.Bytes()
}

// buildTorchZip writes a torch.save-style zip: archive/data.pkl, archive/data/<key>,
// archive/version. compress deflates the storages instead of storing them.
func buildTorchZip(t testing.TB, pkl []byte, storages map[string][]byte, compress bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte, method uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("archive/data.pkl", pkl, zip.Store)
	method := zip.Store
	if compress {
		method = zip.Deflate
	}
	for k, v := range storages {
		add("archive/data/"+k, v, method)
	}
	add("archive/version", []byte("3\n"), zip.Store)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t testing.TB, c Source, name string) []float32 {
	t.Helper()
	info, ok := c.Lookup(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	out := make([]float32, info.NumElements())
	if err := c.ReadFloat32(name, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
