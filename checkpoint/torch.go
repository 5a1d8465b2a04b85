package checkpoint

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// PyTorch zip checkpoints (torch.save since PyTorch 1.6): a zip archive holding
// <archive>/data.pkl (the pickled state dict, whose tensors reference storages by
// persistent id) and one entry <archive>/data/<key> per storage, normally stored
// uncompressed and 64-byte aligned, so it can be read straight from the mapping.

// OpenTorch opens one PyTorch zip checkpoint (pytorch_model.bin).
func OpenTorch(path string) (*Checkpoint, error) {
	return openFile(path, "pytorch", "pytorch checkpoint", (*Checkpoint).addTorch)
}

func (c *Checkpoint) addTorch(f *dataFile) error {
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		return fmt.Errorf("file too short (%d bytes) to be a checkpoint", f.size)
	}
	if string(magic[:]) != "PK\x03\x04" {
		if magic[0] == opProto {
			return fmt.Errorf("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with a current PyTorch or convert to safetensors")
		}
		return fmt.Errorf("not a PyTorch zip checkpoint (no zip signature)")
	}
	zr, err := zip.NewReader(f, f.size)
	if err != nil {
		return fmt.Errorf("read zip: %w", err)
	}
	entries := map[string]*zip.File{}
	prefix := ""
	for _, zf := range zr.File {
		entries[zf.Name] = zf
		if strings.HasSuffix(zf.Name, "/data.pkl") && strings.Count(zf.Name, "/") == 1 {
			if prefix != "" {
				return fmt.Errorf("zip holds more than one data.pkl")
			}
			prefix = strings.TrimSuffix(zf.Name, "data.pkl")
		}
	}
	if prefix == "" {
		return fmt.Errorf("zip has no <archive>/data.pkl entry: not a torch.save checkpoint")
	}
	if bo, ok := entries[prefix+"byteorder"]; ok {
		b, err := readSmallEntry(bo, 16)
		if err != nil {
			return fmt.Errorf("byteorder: %w", err)
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return fmt.Errorf("byte order %q is not supported (only little-endian)", s)
		}
	}
	pkl, err := readSmallEntry(entries[prefix+"data.pkl"], maxPickleSize)
	if err != nil {
		return fmt.Errorf("data.pkl: %w", err)
	}

	storages := map[string]*pyStorage{}
	backing := map[*pyStorage]*storage{}
	load := func(pid any) (any, error) {
		t, ok := pid.(*pyTuple)
		if !ok || len(t.items) != 5 {
			return nil, fmt.Errorf("expected ('storage', type, key, location, numel), got %s", typeName(pid))
		}
		if s, _ := t.items[0].(string); s != "storage" {
			return nil, fmt.Errorf("persistent id kind is not 'storage'")
		}
		g, ok := t.items[1].(pyGlobal)
		dt, known := torchStorageTypes[g.name]
		if !ok || !known || g.module != "torch" {
			return nil, fmt.Errorf("storage type %s is not supported", typeName(t.items[1]))
		}
		key, ok := t.items[2].(string)
		if !ok || key == "" || strings.ContainsAny(key, "/\\") {
			return nil, fmt.Errorf("bad storage key")
		}
		numel, ok := t.items[4].(int64)
		if !ok || numel < 0 || numel > maxElements {
			return nil, fmt.Errorf("storage %s: bad element count", key)
		}
		if s, ok := storages[key]; ok {
			if s.dtype != dt || s.numel != numel {
				return nil, fmt.Errorf("storage %s is referenced with two different types or sizes", key)
			}
			return s, nil
		}
		zf, ok := entries[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage %s: zip entry %sdata/%s is missing", key, prefix, key)
		}
		need := uint64(numel) * uint64(dt.Size())
		if zf.UncompressedSize64 < need {
			return nil, fmt.Errorf("storage %s: entry holds %d bytes, %d %s elements need %d (truncated?)",
				key, zf.UncompressedSize64, numel, dt, need)
		}
		st := &storage{file: f, dtype: dt, numel: numel}
		if zf.Method == zip.Store {
			off, err := zf.DataOffset()
			if err != nil {
				return nil, fmt.Errorf("storage %s: %w", key, err)
			}
			if off < 0 || uint64(off)+need > uint64(f.size) {
				return nil, fmt.Errorf("storage %s: data beyond end of file (truncated?)", key)
			}
			st.off = off
		} else {
			st.zf = zf
		}
		s := &pyStorage{dtype: dt, key: key, numel: numel}
		storages[key] = s
		backing[s] = st
		return s, nil
	}
	root, err := unpickle(pkl, load)
	if err != nil {
		return err
	}
	dict, ok := root.(*pyDict)
	if !ok {
		return fmt.Errorf("data.pkl holds %s, not a state dict", typeName(root))
	}
	for i, k := range dict.keys {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("state dict key %d is %s, not a string", i, typeName(k))
		}
		t, ok := dict.vals[i].(*pyTensor)
		if !ok {
			return fmt.Errorf("state dict entry %q is %s, not a tensor", name, typeName(dict.vals[i]))
		}
		e, err := torchEntry(name, t, backing[t.storage])
		if err != nil {
			return err
		}
		if _, dup := c.tensors[name]; dup {
			return fmt.Errorf("tensor %q appears in more than one file", name)
		}
		c.tensors[name] = e
	}
	return nil
}

// torchEntry validates a tensor view against its storage.
func torchEntry(name string, t *pyTensor, st *storage) (*tensorEntry, error) {
	n, err := checkedNumElements(t.shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	e := &tensorEntry{info: TensorInfo{Name: name, DType: t.storage.dtype, Shape: t.shape}, st: st, offset: t.offset}
	if n == 0 {
		return e, nil
	}
	// last is the index of the last element the view reaches; it is kept within the
	// storage at every step, so that no product can overflow.
	limit, last := t.storage.numel-1, t.offset
	outside := last > limit
	contiguous := true
	want := int64(1)
	for d := len(t.shape) - 1; d >= 0 && !outside; d-- {
		span, step := int64(t.shape[d]-1), int64(t.stride[d])
		if step != 0 && span > (limit-last)/step {
			outside = true
			break
		}
		last += span * step
		if t.shape[d] != 1 && step != want {
			contiguous = false
		}
		want *= int64(t.shape[d])
	}
	if outside {
		return nil, fmt.Errorf("tensor %q: shape %v, stride %v, offset %d reach beyond a storage of %d elements",
			name, t.shape, t.stride, t.offset, t.storage.numel)
	}
	if !contiguous {
		e.strides = t.stride
	}
	return e, nil
}

func readSmallEntry(zf *zip.File, limit int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("entry of %d bytes exceeds the limit of %d", zf.UncompressedSize64, limit)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("entry exceeds the limit of %d bytes", limit)
	}
	return buf.Bytes(), nil
}
