package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A minimal, safe pickle reader for PyTorch state dicts (Python pickle protocols 2-5, as
// written by torch.save). It builds plain Go values and understands only the globals in
// allowedGlobals; it never imports or calls anything. Unknown opcodes and globals are
// errors naming them.

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

// pickle opcodes understood by the reader.
const (
	opMark            = '('
	opStop            = '.'
	opPop             = '0'
	opPopMark         = '1'
	opDup             = '2'
	opBinFloat        = 'G'
	opBinInt          = 'J'
	opBinInt1         = 'K'
	opBinInt2         = 'M'
	opNone            = 'N'
	opBinPersID       = 'Q'
	opReduce          = 'R'
	opBinUnicode      = 'X'
	opEmptyList       = ']'
	opAppend          = 'a'
	opBuild           = 'b'
	opGlobal          = 'c'
	opDict            = 'd'
	opAppends         = 'e'
	opBinGet          = 'h'
	opLongBinGet      = 'j'
	opList            = 'l'
	opBinPut          = 'q'
	opLongBinPut      = 'r'
	opSetItem         = 's'
	opTuple           = 't'
	opSetItems        = 'u'
	opEmptyDict       = '}'
	opEmptyTuple      = ')'
	opBinBytes        = 'B'
	opShortBinBytes   = 'C'
	opProto           = 0x80
	opTuple1          = 0x85
	opTuple2          = 0x86
	opTuple3          = 0x87
	opNewTrue         = 0x88
	opNewFalse        = 0x89
	opLong1           = 0x8a
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95
)

// opcodeNames names the opcodes the reader refuses, for error messages.
var opcodeNames = map[byte]string{
	'I': "INT", 'L': "LONG", 'F': "FLOAT", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'P': "PERSID", 'g': "GET", 'p': "PUT", 'i': "INST", 'o': "OBJ",
	0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x8b: "LONG4", 0x8e: "BINBYTES8",
	0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x96: "BYTEARRAY8",
	0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}

type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
	// persistentLoad resolves a BINPERSID id.
	persistentLoad func(pid any) (any, error)
}

// unpickle runs the pickle program in data and returns the value left by STOP.
func unpickle(data []byte, persistentLoad func(any) (any, error)) (any, error) {
	if len(data) > maxPickleSize {
		return nil, fmt.Errorf("pickle of %d bytes exceeds the limit of %d", len(data), maxPickleSize)
	}
	u := &unpickler{data: data, memo: map[uint32]any{}, persistentLoad: persistentLoad}
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	return v, nil
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("truncated at offset %d (need %d more bytes)", u.pos, n)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	for i := u.pos; i < len(u.data) && i-u.pos < 256; i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", fmt.Errorf("unterminated line at offset %d", u.pos)
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// checkLimits bounds the memory a hostile pickle can make the reader hold.
func (u *unpickler) checkLimits() error {
	if len(u.stack) > maxPickleItems || len(u.memo) > maxPickleItems || len(u.marks) > maxPickleItems {
		return fmt.Errorf("more than %d stack items, marks or memo entries at offset %d", maxPickleItems, u.pos)
	}
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("stack underflow at offset %d", u.pos)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("stack underflow at offset %d", u.pos)
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and removes them and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("no MARK on the stack at offset %d", u.pos)
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d not defined at offset %d", i, u.pos)
	}
	u.push(v)
	return nil
}

func (u *unpickler) memoPut(i uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) run() (any, error) {
	for {
		if err := u.checkLimits(); err != nil {
			return nil, err
		}
		opPos := u.pos
		b, err := u.read(1)
		if err != nil {
			return nil, fmt.Errorf("missing STOP: %w", err)
		}
		op := b[0]
		switch op {
		case opProto:
			p, err := u.read(1)
			if err != nil {
				return nil, err
			}
			if p[0] > 5 {
				return nil, fmt.Errorf("unsupported pickle protocol %d", p[0])
			}
		case opFrame:
			if _, err := u.read(8); err != nil {
				return nil, err
			}
		case opStop:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case opMark:
			u.marks = append(u.marks, len(u.stack))
		case opPop:
			if _, err := u.pop(); err != nil {
				return nil, err
			}
		case opPopMark:
			if _, err := u.popMark(); err != nil {
				return nil, err
			}
		case opDup:
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			u.push(v)
		case opNone:
			u.push(nil)
		case opNewTrue:
			u.push(true)
		case opNewFalse:
			u.push(false)
		case opBinInt:
			b, err := u.read(4)
			if err != nil {
				return nil, err
			}
			u.push(int64(int32(binary.LittleEndian.Uint32(b))))
		case opBinInt1:
			b, err := u.read(1)
			if err != nil {
				return nil, err
			}
			u.push(int64(b[0]))
		case opBinInt2:
			b, err := u.read(2)
			if err != nil {
				return nil, err
			}
			u.push(int64(binary.LittleEndian.Uint16(b)))
		case opLong1:
			nb, err := u.read(1)
			if err != nil {
				return nil, err
			}
			n := int(nb[0])
			if n > 8 {
				return nil, fmt.Errorf("LONG1 integer of %d bytes at offset %d is too large", n, opPos)
			}
			b, err := u.read(n)
			if err != nil {
				return nil, err
			}
			var v int64
			for i := n - 1; i >= 0; i-- {
				v = v<<8 | int64(b[i])
			}
			if n > 0 && n < 8 && b[n-1]&0x80 != 0 { // sign-extend
				v -= int64(1) << (8 * uint(n))
			}
			u.push(v)
		case opBinFloat:
			b, err := u.read(8)
			if err != nil {
				return nil, err
			}
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case opBinUnicode, opBinBytes:
			b, err := u.read(4)
			if err != nil {
				return nil, err
			}
			s, err := u.read(int(binary.LittleEndian.Uint32(b)))
			if err != nil {
				return nil, err
			}
			if op == opBinUnicode {
				u.push(string(s))
			} else {
				u.push(pyBytes(s))
			}
		case opShortBinUnicode, opShortBinBytes:
			b, err := u.read(1)
			if err != nil {
				return nil, err
			}
			s, err := u.read(int(b[0]))
			if err != nil {
				return nil, err
			}
			if op == opShortBinUnicode {
				u.push(string(s))
			} else {
				u.push(pyBytes(s))
			}
		case opBinUnicode8:
			b, err := u.read(8)
			if err != nil {
				return nil, err
			}
			n := binary.LittleEndian.Uint64(b)
			if n > uint64(len(u.data)) {
				return nil, fmt.Errorf("truncated at offset %d", u.pos)
			}
			s, err := u.read(int(n))
			if err != nil {
				return nil, err
			}
			u.push(string(s))
		case opEmptyTuple:
			u.push(&pyTuple{})
		case opTuple:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&pyTuple{items: items})
		case opTuple1, opTuple2, opTuple3:
			n := int(op-opTuple1) + 1
			items := make([]any, n)
			for i := n - 1; i >= 0; i-- {
				if items[i], err = u.pop(); err != nil {
					return nil, err
				}
			}
			u.push(&pyTuple{items: items})
		case opEmptyList:
			u.push(&pyList{})
		case opList:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&pyList{items: items})
		case opAppend:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			if err := u.appendTo([]any{v}); err != nil {
				return nil, err
			}
		case opAppends:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			if err := u.appendTo(items); err != nil {
				return nil, err
			}
		case opEmptyDict:
			u.push(newDict())
		case opDict:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			d := newDict()
			if err := setItems(d, items); err != nil {
				return nil, fmt.Errorf("DICT at offset %d: %w", opPos, err)
			}
			u.push(d)
		case opSetItem:
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			k, err := u.pop()
			if err != nil {
				return nil, err
			}
			if err := u.setItemsOnTop([]any{k, v}, opPos); err != nil {
				return nil, err
			}
		case opSetItems:
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			if err := u.setItemsOnTop(items, opPos); err != nil {
				return nil, err
			}
		case opGlobal:
			module, err := u.readLine()
			if err != nil {
				return nil, err
			}
			name, err := u.readLine()
			if err != nil {
				return nil, err
			}
			if err := u.pushGlobal(module, name); err != nil {
				return nil, err
			}
		case opStackGlobal:
			nv, err := u.pop()
			if err != nil {
				return nil, err
			}
			mv, err := u.pop()
			if err != nil {
				return nil, err
			}
			module, ok1 := mv.(string)
			name, ok2 := nv.(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("STACK_GLOBAL at offset %d needs two strings", opPos)
			}
			if err := u.pushGlobal(module, name); err != nil {
				return nil, err
			}
		case opReduce:
			args, err := u.pop()
			if err != nil {
				return nil, err
			}
			fn, err := u.pop()
			if err != nil {
				return nil, err
			}
			v, err := reduce(fn, args)
			if err != nil {
				return nil, fmt.Errorf("REDUCE at offset %d: %w", opPos, err)
			}
			u.push(v)
		case opBuild:
			state, err := u.pop()
			if err != nil {
				return nil, err
			}
			obj, err := u.top()
			if err != nil {
				return nil, err
			}
			// OrderedDict state dicts carry a _metadata attribute; tensors may carry
			// Python attributes. Both are irrelevant to the weights.
			switch obj.(type) {
			case *pyDict, *pyTensor:
			default:
				return nil, fmt.Errorf("BUILD at offset %d on %s is not supported", opPos, typeName(obj))
			}
			_ = state
		case opBinPersID:
			pid, err := u.pop()
			if err != nil {
				return nil, err
			}
			if u.persistentLoad == nil {
				return nil, fmt.Errorf("BINPERSID at offset %d without a persistent loader", opPos)
			}
			v, err := u.persistentLoad(pid)
			if err != nil {
				return nil, fmt.Errorf("persistent id at offset %d: %w", opPos, err)
			}
			u.push(v)
		case opBinGet:
			b, err := u.read(1)
			if err != nil {
				return nil, err
			}
			if err := u.memoGet(uint32(b[0])); err != nil {
				return nil, err
			}
		case opLongBinGet:
			b, err := u.read(4)
			if err != nil {
				return nil, err
			}
			if err := u.memoGet(binary.LittleEndian.Uint32(b)); err != nil {
				return nil, err
			}
		case opBinPut:
			b, err := u.read(1)
			if err != nil {
				return nil, err
			}
			if err := u.memoPut(uint32(b[0])); err != nil {
				return nil, err
			}
		case opLongBinPut:
			b, err := u.read(4)
			if err != nil {
				return nil, err
			}
			if err := u.memoPut(binary.LittleEndian.Uint32(b)); err != nil {
				return nil, err
			}
		case opMemoize:
			if err := u.memoPut(uint32(len(u.memo))); err != nil {
				return nil, err
			}
		default:
			if name, ok := opcodeNames[op]; ok {
				return nil, fmt.Errorf("unsupported pickle opcode %s (0x%02x) at offset %d", name, op, opPos)
			}
			return nil, fmt.Errorf("unknown pickle opcode 0x%02x at offset %d", op, opPos)
		}
	}
}

func (u *unpickler) pushGlobal(module, name string) error {
	g := pyGlobal{module, name}
	if !isAllowedGlobal(g) {
		return fmt.Errorf("forbidden global %s.%s: only a PyTorch state dict (tensors, storages, OrderedDict) is accepted", module, name)
	}
	u.push(g)
	return nil
}

func (u *unpickler) appendTo(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return fmt.Errorf("APPEND to %s at offset %d", typeName(v), u.pos)
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItemsOnTop(items []any, opPos int) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("SETITEM(S) at offset %d on %s", opPos, typeName(v))
	}
	if err := setItems(d, items); err != nil {
		return fmt.Errorf("SETITEM(S) at offset %d: %w", opPos, err)
	}
	return nil
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d)", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		switch items[i].(type) {
		case *pyList, *pyDict:
			return fmt.Errorf("unhashable dict key %s", typeName(items[i]))
		}
		d.set(items[i], items[i+1])
	}
	return nil
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
