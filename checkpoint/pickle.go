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

// uint reads an n-byte little-endian unsigned integer.
func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readString reads a length-prefixed string whose length field has lenBytes bytes.
func (u *unpickler) readString(lenBytes int) (string, error) {
	n, err := u.uint(lenBytes)
	if err != nil {
		return "", err
	}
	if n > uint64(len(u.data)) {
		return "", fmt.Errorf("truncated at offset %d", u.pos)
	}
	b, err := u.read(int(n))
	return string(b), err
}

// popN pops n values, returning them in stack order.
func (u *unpickler) popN(n int) ([]any, error) {
	items := make([]any, n)
	for i := n - 1; i >= 0; i-- {
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		items[i] = v
	}
	return items, nil
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
		if op == opStop {
			return u.pop()
		}
		if err := u.step(op); err != nil {
			return nil, fmt.Errorf("at offset %d: %w", opPos, err)
		}
	}
}

// step executes one opcode other than STOP.
func (u *unpickler) step(op byte) error {
	var (
		n     uint64
		s     string
		items []any
		err   error
	)
	switch op {
	case opProto:
		if n, err = u.uint(1); err == nil && n > 5 {
			err = fmt.Errorf("unsupported pickle protocol %d", n)
		}
	case opFrame:
		_, err = u.read(8)
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		_, err = u.pop()
	case opPopMark:
		_, err = u.popMark()
	case opDup:
		var v any
		if v, err = u.top(); err == nil {
			u.push(v)
		}
	case opNone:
		u.push(nil)
	case opNewTrue, opNewFalse:
		u.push(op == opNewTrue)
	case opBinInt:
		if n, err = u.uint(4); err == nil {
			u.push(int64(int32(uint32(n))))
		}
	case opBinInt1, opBinInt2:
		if n, err = u.uint(int(op-opBinInt1)/2 + 1); err == nil { // 'K' = 1 byte, 'M' = 2
			u.push(int64(n))
		}
	case opLong1:
		if n, err = u.uint(1); err != nil {
			break
		}
		if n > 8 {
			return fmt.Errorf("LONG1 integer of %d bytes is too large", n)
		}
		size := int(n)
		if n, err = u.uint(size); err != nil {
			break
		}
		v := int64(n)
		if size > 0 && size < 8 && n>>(8*uint(size)-1)&1 != 0 { // sign-extend
			v -= int64(1) << (8 * uint(size))
		}
		u.push(v)
	case opBinFloat:
		var b []byte
		if b, err = u.read(8); err == nil {
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	case opBinUnicode, opShortBinUnicode, opBinUnicode8, opBinBytes, opShortBinBytes:
		lenBytes := map[byte]int{opBinUnicode: 4, opShortBinUnicode: 1, opBinUnicode8: 8, opBinBytes: 4, opShortBinBytes: 1}[op]
		if s, err = u.readString(lenBytes); err != nil {
			break
		}
		if op == opBinBytes || op == opShortBinBytes {
			u.push(pyBytes(s))
		} else {
			u.push(s)
		}
	case opEmptyTuple:
		u.push(&pyTuple{})
	case opTuple:
		if items, err = u.popMark(); err == nil {
			u.push(&pyTuple{items: items})
		}
	case opTuple1, opTuple2, opTuple3:
		if items, err = u.popN(int(op-opTuple1) + 1); err == nil {
			u.push(&pyTuple{items: items})
		}
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		if items, err = u.popMark(); err == nil {
			u.push(&pyList{items: items})
		}
	case opAppend:
		if items, err = u.popN(1); err == nil {
			err = u.appendTo(items)
		}
	case opAppends:
		if items, err = u.popMark(); err == nil {
			err = u.appendTo(items)
		}
	case opEmptyDict:
		u.push(newDict())
	case opDict:
		if items, err = u.popMark(); err == nil {
			d := newDict()
			if err = setItems(d, items); err == nil {
				u.push(d)
			}
		}
	case opSetItem:
		if items, err = u.popN(2); err == nil {
			err = u.setItemsOnTop(items)
		}
	case opSetItems:
		if items, err = u.popMark(); err == nil {
			err = u.setItemsOnTop(items)
		}
	case opGlobal:
		var module string
		if module, err = u.readLine(); err == nil {
			if s, err = u.readLine(); err == nil {
				err = u.pushGlobal(module, s)
			}
		}
	case opStackGlobal:
		if items, err = u.popN(2); err != nil {
			break
		}
		module, ok1 := items[0].(string)
		name, ok2 := items[1].(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL needs two strings")
		}
		err = u.pushGlobal(module, name)
	case opReduce:
		if items, err = u.popN(2); err != nil {
			break
		}
		var v any
		if v, err = reduce(items[0], items[1]); err != nil {
			return fmt.Errorf("REDUCE: %w", err)
		}
		u.push(v)
	case opBuild:
		// OrderedDict state dicts carry a _metadata attribute; tensors may carry Python
		// attributes. Both are irrelevant to the weights, so the state is dropped.
		if _, err = u.pop(); err != nil {
			break
		}
		var obj any
		if obj, err = u.top(); err != nil {
			break
		}
		switch obj.(type) {
		case *pyDict, *pyTensor:
		default:
			return fmt.Errorf("BUILD on %s is not supported", typeName(obj))
		}
	case opBinPersID:
		if items, err = u.popN(1); err != nil {
			break
		}
		if u.persistentLoad == nil {
			return fmt.Errorf("BINPERSID without a persistent loader")
		}
		var v any
		if v, err = u.persistentLoad(items[0]); err != nil {
			return fmt.Errorf("persistent id: %w", err)
		}
		u.push(v)
	case opBinGet, opLongBinGet:
		if n, err = u.uint(map[byte]int{opBinGet: 1, opLongBinGet: 4}[op]); err == nil {
			err = u.memoGet(uint32(n))
		}
	case opBinPut, opLongBinPut:
		if n, err = u.uint(map[byte]int{opBinPut: 1, opLongBinPut: 4}[op]); err == nil {
			err = u.memoPut(uint32(n))
		}
	case opMemoize:
		err = u.memoPut(uint32(len(u.memo)))
	default:
		if name, ok := opcodeNames[op]; ok {
			return fmt.Errorf("unsupported pickle opcode %s (0x%02x)", name, op)
		}
		return fmt.Errorf("unknown pickle opcode 0x%02x", op)
	}
	return err
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
		return fmt.Errorf("APPEND to %s", typeName(v))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItemsOnTop(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("SETITEM(S) on %s", typeName(v))
	}
	if err := setItems(d, items); err != nil {
		return fmt.Errorf("SETITEM(S): %w", err)
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
