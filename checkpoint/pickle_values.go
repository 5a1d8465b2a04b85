package checkpoint

import "fmt"

// The Python values the pickle reader builds, and the few PyTorch callables a state dict
// needs, interpreted in Go. Nothing here imports or runs Python code.

// Python values produced by the reader.
type (
	pyTuple  struct{ items []any }
	pyList   struct{ items []any }
	pyBytes  string
	pyGlobal struct{ module, name string }
	pyDict   struct {
		keys  []any
		vals  []any
		index map[any]int
	}
	// pyStorage is what persistent_load returns for ('storage', type, key, location, numel).
	pyStorage struct {
		dtype DType
		key   string
		numel int64
	}
	// pyTensor is the result of torch._utils._rebuild_tensor_v2 and friends.
	pyTensor struct {
		storage *pyStorage
		offset  int64
		shape   []int
		stride  []int
	}
)

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

func (d *pyDict) set(k, v any) {
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

// torchStorageTypes maps the legacy storage classes torch.save pickles to element types.
var torchStorageTypes = map[string]DType{
	"FloatStorage": F32, "HalfStorage": F16, "BFloat16Storage": BF16, "DoubleStorage": F64,
	"LongStorage": I64, "IntStorage": I32, "ShortStorage": I16, "CharStorage": I8,
	"ByteStorage": U8, "BoolStorage": Bool,
}

// allowedGlobals are the only callables a state dict pickle may name.
var allowedGlobals = map[pyGlobal]bool{
	{"collections", "OrderedDict"}:                    true,
	{"torch._utils", "_rebuild_tensor_v2"}:            true,
	{"torch._utils", "_rebuild_tensor"}:               true,
	{"torch._utils", "_rebuild_parameter"}:            true,
	{"torch._utils", "_rebuild_parameter_with_state"}: true,
}

func isAllowedGlobal(g pyGlobal) bool {
	if allowedGlobals[g] {
		return true
	}
	_, ok := torchStorageTypes[g.name]
	return ok && g.module == "torch"
}

// typeName describes a value without printing it (values may be cyclic).
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case *pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.module + "." + v.name
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// reduce applies an allowed global to its argument tuple.
func reduce(fn, argv any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call %s", typeName(fn))
	}
	t, ok := argv.(*pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s.%s: arguments are %s, not a tuple", g.module, g.name, typeName(argv))
	}
	args := t.items
	switch g {
	case pyGlobal{"collections", "OrderedDict"}:
		if len(args) != 0 {
			return nil, fmt.Errorf("collections.OrderedDict with arguments is not supported")
		}
		return newDict(), nil
	case pyGlobal{"torch._utils", "_rebuild_tensor_v2"}, pyGlobal{"torch._utils", "_rebuild_tensor"}:
		// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
		// backward_hooks[, metadata]); _rebuild_tensor(storage, storage_offset, size, stride).
		min := 6
		if g.name == "_rebuild_tensor" {
			min = 4
		}
		if len(args) < min || len(args) > 7 {
			return nil, fmt.Errorf("%s: %d arguments", g.name, len(args))
		}
		return rebuildTensor(args[0], args[1], args[2], args[3])
	case pyGlobal{"torch._utils", "_rebuild_parameter"}, pyGlobal{"torch._utils", "_rebuild_parameter_with_state"}:
		if len(args) < 3 || len(args) > 4 {
			return nil, fmt.Errorf("%s: %d arguments", g.name, len(args))
		}
		tensor, ok := args[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("%s: data is %s, not a tensor", g.name, typeName(args[0]))
		}
		return tensor, nil
	}
	return nil, fmt.Errorf("%s.%s cannot be called", g.module, g.name)
}

func rebuildTensor(storage, offset, size, stride any) (*pyTensor, error) {
	st, ok := storage.(*pyStorage)
	if !ok {
		return nil, fmt.Errorf("tensor storage is %s", typeName(storage))
	}
	off, ok := offset.(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("bad storage offset (%s)", typeName(offset))
	}
	shape, err := intTuple(size, "size")
	if err != nil {
		return nil, err
	}
	strides, err := intTuple(stride, "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(strides) {
		return nil, fmt.Errorf("size has %d dimensions, stride %d", len(shape), len(strides))
	}
	return &pyTensor{storage: st, offset: off, shape: shape, stride: strides}, nil
}

func intTuple(v any, what string) ([]int, error) {
	t, ok := v.(*pyTuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is %s, not a tuple", what, typeName(v))
	}
	if len(t.items) > maxDims {
		return nil, fmt.Errorf("tensor %s has %d dimensions (at most %d)", what, len(t.items), maxDims)
	}
	out := make([]int, len(t.items))
	for i, it := range t.items {
		n, ok := it.(int64)
		if !ok || n < 0 || n > maxElements {
			return nil, fmt.Errorf("tensor %s[%d] is not a valid size", what, i)
		}
		out[i] = int(n)
	}
	return out, nil
}
