package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/btlm-miner/btlm-miner/internal/testenv"
)

func tinyDir(t testing.TB) string { return testenv.Shared(t, "testdata/btlm-tiny") }

// TestTinyFormatsAgree opens the btlm-tiny checkpoint in both formats: every tensor must
// be identical, and the .bin's lm_head.weight must share wte's storage.
func TestTinyFormatsAgree(t *testing.T) {
	dir := tinyDir(t)
	st, err := Open(filepath.Join(dir, SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pt, err := Open(filepath.Join(dir, TorchFile))
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	if st.Format() != "safetensors" || pt.Format() != "pytorch" {
		t.Fatalf("formats %s, %s", st.Format(), pt.Format())
	}
	for _, info := range st.Tensors() {
		if info.DType != BF16 {
			t.Errorf("%s: dtype %s, want BF16", info.Name, info.DType)
		}
		other, ok := pt.Lookup(info.Name)
		if !ok || !slices.Equal(other.Shape, info.Shape) {
			t.Fatalf("%s: %v in safetensors, %+v (%v) in pytorch", info.Name, info.Shape, other, ok)
		}
		if !equalFloats(readAll(t, st, info.Name), readAll(t, pt, info.Name)) {
			t.Errorf("%s differs between the formats", info.Name)
		}
	}
	if _, ok := st.Lookup("lm_head.weight"); ok {
		t.Error("safetensors file unexpectedly has lm_head.weight")
	}
	if pt.tensors["lm_head.weight"].st != pt.tensors["transformer.wte.weight"].st {
		t.Error("lm_head.weight does not share wte's storage")
	}
	if got := len(pt.Tensors()); got != len(st.Tensors())+1 {
		t.Errorf("pytorch has %d tensors, safetensors %d", got, len(st.Tensors()))
	}
	// ALiBi slopes for 4 heads: 2^-2, 2^-4, 2^-6, 2^-8 (exact in bf16).
	if s := readAll(t, st, "transformer.relative_pe.slopes"); !equalFloats(s, []float32{0.25, 0.0625, 0.015625, 0.00390625}) {
		t.Errorf("slopes = %v", s)
	}
}

// TestTruncatedTinyFiles cuts the real files at many points: opening and reading must
// fail with an error, never panic or succeed with wrong data.
func TestTruncatedTinyFiles(t *testing.T) {
	dir := tinyDir(t)
	tmp := t.TempDir()
	for _, name := range []string{SafetensorsFile, TorchFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{0, 4, 8, 100, 1000, len(data) / 3, len(data) / 2, len(data) - 64, len(data) - 1} {
			p := writeFile(t, tmp, name, data[:cut])
			c, err := Open(p)
			if err != nil {
				continue
			}
			failed := false
			for _, info := range c.Tensors() {
				if err := c.ReadFloat32(info.Name, make([]float32, info.NumElements())); err != nil {
					failed = true
				}
			}
			c.Close()
			if !failed {
				t.Errorf("%s cut to %d of %d bytes opened and read without error", name, cut, len(data))
			}
		}
	}
}

func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Fatalf("empty directory: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing path: no error")
	}
	tensors, storages := sampleTorch()
	writeFile(t, dir, TorchFile, buildTorchZip(t, buildTorchPickle(tensors), storages, false))
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format() != "pytorch" {
		t.Errorf("format %s", c.Format())
	}
	c.Close()
	if err := c.ReadFloat32("w", make([]float32, 12)); err == nil {
		t.Error("read after Close: no error")
	}
	// safetensors is preferred when both are present.
	writeFile(t, dir, SafetensorsFile, buildSafetensors(t, []stTensor{{"w", "F32", []int{1}, f32Bytes(5)}}, nil))
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format() != "safetensors" {
		t.Errorf("format %s, want safetensors", c.Format())
	}
}

func writeIndex(t testing.TB, dir, name string, weightMap map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b)
}

func TestShardedSafetensors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "model-00001-of-00002.safetensors", buildSafetensors(t, []stTensor{
		{"a", "F32", []int{2}, f32Bytes(1, 2)}, {"b", "BF16", []int{1}, u16Bytes(0x4000)}}, nil))
	writeFile(t, dir, "model-00002-of-00002.safetensors", buildSafetensors(t, []stTensor{
		{"c", "F16", []int{1}, u16Bytes(0x3c00)}}, nil))
	good := map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}
	writeIndex(t, dir, SafetensorsIndexFile, good)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, "b"); !equalFloats(got, []float32{2}) {
		t.Errorf("b = %v", got)
	}
	if got := readAll(t, c, "c"); !equalFloats(got, []float32{1}) {
		t.Errorf("c = %v", got)
	}
	c.Close()

	bad := []struct {
		name string
		wm   map[string]string
		want string
	}{
		{"missing tensor", map[string]string{"a": "model-00001-of-00002.safetensors", "z": "model-00002-of-00002.safetensors"}, `"z" listed in the index is missing`},
		{"wrong shard", map[string]string{"a": "model-00002-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}, `"a" listed in the index is missing`},
		{"path escape", map[string]string{"a": "../model-00001-of-00002.safetensors"}, "plain file name"},
		{"missing shard", map[string]string{"a": "model-00009.safetensors"}, "model-00009.safetensors"},
		{"empty map", map[string]string{}, "no weight_map"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			p := writeIndex(t, dir, "bad.safetensors.index.json", b.wm)
			if _, err := Open(p); err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("error %v, want one containing %q", err, b.want)
			}
		})
	}
	// The same tensor in two shards is refused.
	writeFile(t, dir, "dup.safetensors", buildSafetensors(t, []stTensor{{"a", "F32", []int{1}, f32Bytes(9)}}, nil))
	p := writeIndex(t, dir, "dup.safetensors.index.json", map[string]string{"a": "dup.safetensors", "b": "model-00001-of-00002.safetensors"})
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "more than one file") {
		t.Fatalf("duplicate tensor: %v", err)
	}
}

func TestShardedTorch(t *testing.T) {
	dir := t.TempDir()
	tensors, storages := sampleTorch()
	writeFile(t, dir, "pytorch_model-00001-of-00002.bin", buildTorchZip(t, buildTorchPickle(tensors[:4]), map[string][]byte{"0": storages["0"]}, false))
	writeFile(t, dir, "pytorch_model-00002-of-00002.bin", buildTorchZip(t, buildTorchPickle(tensors[4:6]), map[string][]byte{"1": storages["1"], "2": storages["2"]}, false))
	wm := map[string]string{}
	for i, ts := range tensors[:6] {
		wm[ts.name] = "pytorch_model-00001-of-00002.bin"
		if i >= 4 {
			wm[ts.name] = "pytorch_model-00002-of-00002.bin"
		}
	}
	writeIndex(t, dir, TorchIndexFile, wm)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format() != "pytorch" || len(c.Tensors()) != 6 {
		t.Fatalf("format %s, %d tensors", c.Format(), len(c.Tensors()))
	}
	if got := readAll(t, c, "float"); !equalFloats(got, []float32{8, 7}) {
		t.Errorf("float = %v", got)
	}
	if got := readAll(t, c, "w_t"); !equalFloats(got, []float32{1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12}) {
		t.Errorf("w_t = %v", got)
	}
}

func TestMemory(t *testing.T) {
	m := NewMemory()
	if err := m.Add("x", []int{2, 2}, []float32{1, 2, 3}); err == nil {
		t.Error("wrong length accepted")
	}
	if err := m.Add("x", []int{2, 2}, []float32{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, m, "x"); !equalFloats(got, []float32{1, 2, 3, 4}) {
		t.Errorf("x = %v", got)
	}
	m.Delete("x")
	if _, ok := m.Lookup("x"); ok {
		t.Error("deleted tensor still present")
	}
}

// BenchmarkReadBF16 measures the bf16 → f32 conversion from the mapping (the tiny wte).
func BenchmarkReadBF16(b *testing.B) {
	c, err := Open(filepath.Join(tinyDir(b), SafetensorsFile))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	info, _ := c.Lookup("transformer.wte.weight")
	dst := make([]float32, info.NumElements())
	b.SetBytes(int64(2 * len(dst)))
	for i := 0; i < b.N; i++ {
		if err := c.ReadFloat32(info.Name, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// TestShardedTinyModel splits the tiny safetensors file into two shards with an index:
// the sharded directory must read back exactly the same tensors.
func TestShardedTinyModel(t *testing.T) {
	src, err := Open(filepath.Join(tinyDir(t), SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	shards := [2][]stTensor{}
	wm := map[string]string{}
	for i, info := range src.Tensors() {
		e := src.tensors[info.Name]
		raw, err := e.st.bytes(e.offset, int64(info.NumElements()))
		if err != nil {
			t.Fatal(err)
		}
		shards[i%2] = append(shards[i%2], stTensor{info.Name, info.DType.String(), info.Shape, raw})
		wm[info.Name] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i%2]
	}
	writeFile(t, dir, "model-00001-of-00002.safetensors", buildSafetensors(t, shards[0], nil))
	writeFile(t, dir, "model-00002-of-00002.safetensors", buildSafetensors(t, shards[1], nil))
	writeIndex(t, dir, SafetensorsIndexFile, wm)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Tensors()) != len(src.Tensors()) {
		t.Fatalf("%d tensors, want %d", len(c.Tensors()), len(src.Tensors()))
	}
	for _, info := range src.Tensors() {
		if !equalFloats(readAll(t, c, info.Name), readAll(t, src, info.Name)) {
			t.Errorf("%s differs", info.Name)
		}
	}
}
