package checkpoint

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// sampleTorch is a state dict exercising shared storages, offsets, a transposed view
// and three storage types.
func sampleTorch() ([]torchTensor, map[string][]byte) {
	// storage "0": 12 bf16 values 1..12.
	var bf []uint16
	for i := 1; i <= 12; i++ {
		bf = append(bf, uint16(math.Float32bits(float32(i))>>16))
	}
	tensors := []torchTensor{
		{name: "w", key: "0", storageType: "BFloat16Storage", numel: 12, shape: []int{3, 4}, stride: []int{4, 1}},
		{name: "w_t", key: "0", storageType: "BFloat16Storage", numel: 12, shape: []int{4, 3}, stride: []int{1, 4}},
		{name: "tail", key: "0", storageType: "BFloat16Storage", numel: 12, offset: 8, shape: []int{2, 2}, stride: []int{2, 1}},
		{name: "tied", key: "0", storageType: "BFloat16Storage", numel: 12, shape: []int{3, 4}, stride: []int{4, 1}},
		{name: "half", key: "1", storageType: "HalfStorage", numel: 2, shape: []int{2}, stride: []int{1}},
		{name: "float", key: "2", storageType: "FloatStorage", numel: 3, offset: 1, shape: []int{2, 1}, stride: []int{1, 1}},
		{name: "mask", key: "3", storageType: "ByteStorage", numel: 4, shape: []int{1, 1, 2, 2}, stride: []int{4, 4, 2, 1}},
	}
	storages := map[string][]byte{
		"0": u16Bytes(bf...),
		"1": u16Bytes(0x3c00, 0xc000),
		"2": f32Bytes(9, 8, 7),
		"3": {1, 0, 1, 1},
	}
	return tensors, storages
}

func openTorchBytes(t testing.TB, file []byte) (*Checkpoint, error) {
	t.Helper()
	c := &Checkpoint{format: "pytorch", tensors: map[string]*tensorEntry{}}
	err := c.addTorch(memFile(file))
	return c, err
}

func TestTorchStateDict(t *testing.T) {
	tensors, storages := sampleTorch()
	for _, compress := range []bool{false, true} {
		file := buildTorchZip(t, buildTorchPickle(tensors), storages, compress)
		c, err := openTorchBytes(t, file)
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		want := map[string][]float32{
			"w":     {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
			"w_t":   {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12},
			"tail":  {9, 10, 11, 12},
			"tied":  {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
			"half":  {1, -2},
			"float": {8, 7},
		}
		for name, w := range want {
			if got := readAll(t, c, name); !equalFloats(got, w) {
				t.Errorf("compress=%v: %s = %v, want %v", compress, name, got, w)
			}
		}
		if info, _ := c.Lookup("mask"); info.DType != U8 || len(info.Shape) != 4 {
			t.Errorf("mask: %+v", info)
		}
		if c.tensors["w"].st != c.tensors["tied"].st {
			t.Error("tensors sharing storage 0 got two storages")
		}
		if compress == false && c.tensors["w"].st.file.data == nil {
			t.Error("stored entry is not read from the mapping")
		}
	}
}

// TestTorchProtocolVariants covers opcodes of newer pickle protocols and
// _rebuild_parameter, with a plain dict at the top.
func TestTorchProtocolVariants(t *testing.T) {
	file := func(pk []byte) []byte { return buildTorchZip(t, pk, map[string][]byte{"k": f32Bytes(3, 4)}, false) }
	q := &pickler{}
	q.op(opProto, 4).op(opFrame, 0, 0, 0, 0, 0, 0, 0, 0).op(opEmptyDict, opMemoize, opMark)
	q.op(opShortBinUnicode, 1, 'p')
	q.op(opShortBinUnicode, 12).op([]byte("torch._utils")...)
	q.op(opShortBinUnicode, 18).op([]byte("_rebuild_parameter")...)
	q.op(opStackGlobal)
	q.global("torch._utils", "_rebuild_tensor_v2")
	q.op(opMark)
	q.op(opMark).str("storage").global("torch", "FloatStorage").str("k").str("cpu").int(2).op(opTuple, opBinPersID)
	q.int(0).ints([]int{2}).ints([]int{1}).op(opNewFalse)
	q.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	q.op(opTuple, opReduce)  // tensor
	q.op(opNewTrue)          // requires_grad
	q.op(opEmptyDict)        // backward hooks
	q.op(opTuple3, opReduce) // _rebuild_parameter(tensor, True, {})
	q.op(opSetItems, opStop)
	c, err := openTorchBytes(t, file(q.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, "p"); !equalFloats(got, []float32{3, 4}) {
		t.Errorf("p = %v", got)
	}
}

func TestTorchCorrupt(t *testing.T) {
	tensors, storages := sampleTorch()
	good := buildTorchPickle(tensors)
	zipOf := func(pk []byte) []byte { return buildTorchZip(t, pk, storages, false) }
	withTensors := func(edit func([]torchTensor)) []byte {
		ts := append([]torchTensor(nil), tensors...)
		edit(ts)
		return zipOf(buildTorchPickle(ts))
	}
	forbidden := func(module, name string) []byte {
		p := &pickler{}
		p.op(opProto, 2).global(module, name).str("echo pwned").op(opTuple1, opReduce, opStop)
		return zipOf(p.Bytes())
	}
	validZip := zipOf(good)
	shortStorage := map[string][]byte{}
	for k, v := range storages {
		shortStorage[k] = v
	}
	shortStorage["0"] = shortStorage["0"][:10]
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"forbidden global os.system", forbidden("os", "system"), "forbidden global os.system"},
		{"forbidden global builtins.eval", forbidden("builtins", "eval"), "forbidden global builtins.eval"},
		{"forbidden storage-like global", forbidden("numpy", "FloatStorage"), "forbidden global numpy.FloatStorage"},
		{"forbidden STACK_GLOBAL", zipOf([]byte("\x80\x04\x8c\x02os\x8c\x06system\x93.")), "forbidden global os.system"},
		{"unsupported opcode INST", zipOf([]byte("\x80\x02ios\nsystem\n.")), "unsupported pickle opcode INST"},
		{"unknown opcode", zipOf([]byte("\x80\x02\xff.")), "unknown pickle opcode 0xff"},
		{"no STOP", zipOf(good[:len(good)-1]), "missing STOP"},
		{"truncated pickle", zipOf(good[:len(good)/2]), "pickle"},
		{"not a dict", zipOf([]byte("\x80\x02K\x05.")), "not a state dict"},
		{"non-tensor value", zipOf([]byte("\x80\x02}(X\x01\x00\x00\x00aK\x01u.")), `entry "a" is int`},
		{"storage missing", withTensors(func(ts []torchTensor) { ts[4].key = "9" }), "data/9 is missing"},
		{"storage too short", buildTorchZip(t, good, shortStorage, false), "truncated?"},
		{"view beyond storage", withTensors(func(ts []torchTensor) { ts[2].offset = 10 }), `tensor "tail"`},
		{"stride beyond storage", withTensors(func(ts []torchTensor) { ts[1].stride = []int{1, 5} }), `tensor "w_t"`},
		{"stride past int64", withTensors(func(ts []torchTensor) { ts[0].shape, ts[0].stride = []int{1 << 24}, []int{1 << 40} }), `tensor "w"`},
		{"storage type changes", withTensors(func(ts []torchTensor) { ts[3].storageType = "HalfStorage" }), "two different types"},
		{"unknown storage type", withTensors(func(ts []torchTensor) { ts[4].storageType = "ComplexFloatStorage" }), "forbidden global torch.ComplexFloatStorage"},
		{"truncated zip", validZip[:len(validZip)-30], "zip"},
		{"truncated zip data", validZip[:200], "zip"},
		{"not a zip", []byte("hello world, not a checkpoint"), "not a PyTorch zip checkpoint"},
		{"legacy format", []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."), "legacy"},
		{"empty", nil, "too short"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := openTorchBytes(t, c.file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestUnpickleNeverExecutes(t *testing.T) {
	// Even an allowed callable with the wrong arguments is an error, and a persistent
	// id is refused without a loader.
	for _, prog := range []string{
		"\x80\x02ccollections\nOrderedDict\nK\x01\x85R.",
		"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)R.",
		"\x80\x02K\x01Q.",
		"\x80\x02ctorch\nFloatStorage\n)R.",
		"\x80\x02]K\x01a]\x94h\x00b.",
	} {
		if _, err := unpickle([]byte(prog), nil); err == nil {
			t.Errorf("%q: no error", prog)
		}
	}
}

// fakeStorages resolves any well-formed persistent id, for fuzzing the pickle reader.
func fakeStorages(pid any) (any, error) {
	t, ok := pid.(*pyTuple)
	if !ok || len(t.items) != 5 {
		return nil, errBadPID
	}
	key, _ := t.items[2].(string)
	n, _ := t.items[4].(int64)
	return &pyStorage{dtype: F32, key: key, numel: n}, nil
}

var errBadPID = bytes.ErrTooLarge

func FuzzUnpickle(f *testing.F) {
	tensors, _ := sampleTorch()
	f.Add(buildTorchPickle(tensors))
	f.Add([]byte("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a]\x94(K\x01K\x02eu."))
	f.Add([]byte("\x80\x02(]q\x00h\x00ah\x00\x85q\x01t."))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := unpickle(data, fakeStorages)
		if err != nil {
			return
		}
		_ = typeName(v)
		if d, ok := v.(*pyDict); ok {
			for i, k := range d.keys {
				if tt, ok := d.vals[i].(*pyTensor); ok {
					name, _ := k.(string)
					torchEntry(name, tt, &storage{dtype: F32, numel: tt.storage.numel})
				}
			}
		}
	})
}

func FuzzTorchZip(f *testing.F) {
	tensors, storages := sampleTorch()
	f.Add(buildTorchZip(f, buildTorchPickle(tensors[:2]), map[string][]byte{"0": storages["0"]}, false))
	f.Add(buildTorchZip(f, buildTorchPickle(tensors[4:5]), map[string][]byte{"1": storages["1"]}, true))
	f.Fuzz(func(t *testing.T, file []byte) {
		c := &Checkpoint{tensors: map[string]*tensorEntry{}}
		if err := c.addTorch(memFile(file)); err != nil {
			return
		}
		for _, info := range c.Tensors() {
			if info.NumElements() <= 1<<16 && info.DType.IsFloat() {
				c.ReadFloat32(info.Name, make([]float32, info.NumElements()))
			}
		}
	})
}

func TestUnpickleLimits(t *testing.T) {
	prog := append([]byte("\x80\x02"), bytes.Repeat([]byte("N"), maxPickleItems+2)...)
	if _, err := unpickle(append(prog, '.'), nil); err == nil || !strings.Contains(err.Error(), "stack items") {
		t.Errorf("stack flood: %v", err)
	}
	if _, err := unpickle(make([]byte, maxPickleSize+1), nil); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("oversized pickle: %v", err)
	}
}

func TestUnpickleValues(t *testing.T) {
	// [LONG1 -1, LONG1 300, BININT -2, BINFLOAT 1.5, b"hi", True, None, "x" (memoized, fetched
	// twice), 7 (DUP'd then POP'd)] as a list built with APPENDS.
	prog := "\x80\x02](" +
		"\x8a\x01\xff" + "\x8a\x02\x2c\x01" + "J\xfe\xff\xff\xff" + "G\x3f\xf8\x00\x00\x00\x00\x00\x00" +
		"C\x02hi" + "\x88" + "N" + "\x8c\x01x\x94" + "h\x00" + "K\x072" + "0" + "e."
	v, err := unpickle([]byte(prog), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := v.(*pyList)
	if !ok {
		t.Fatalf("got %s", typeName(v))
	}
	want := []any{int64(-1), int64(300), int64(-2), 1.5, pyBytes("hi"), true, nil, "x", "x", int64(7)}
	if len(l.items) != len(want) {
		t.Fatalf("%d items, want %d", len(l.items), len(want))
	}
	for i := range want {
		if l.items[i] != want[i] {
			t.Errorf("item %d = %v (%s), want %v", i, l.items[i], typeName(l.items[i]), want[i])
		}
	}
}
