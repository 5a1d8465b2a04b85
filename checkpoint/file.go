package checkpoint

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
)

// dataFile is one open checkpoint file, memory-mapped read-only when possible.
type dataFile struct {
	path string
	f    *os.File // nil for an in-memory file (tests)
	data []byte   // the mapping; nil when the file is read with ReadAt instead
	size int64
}

func openDataFile(path string) (*dataFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	d := &dataFile{path: path, f: f, size: st.Size()}
	if d.size > 0 {
		if m, err := mmapFile(f, d.size); err == nil {
			d.data = m
		}
	}
	return d, nil
}

// ReadAt implements io.ReaderAt over the mapping or the file.
func (d *dataFile) ReadAt(p []byte, off int64) (int, error) {
	if d.data == nil {
		return d.f.ReadAt(p, off)
	}
	if off < 0 || off > int64(len(d.data)) {
		return 0, io.EOF
	}
	n := copy(p, d.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close unmaps and closes the file.
func (d *dataFile) Close() error {
	if d.f == nil { // in-memory file (tests)
		return nil
	}
	var err error
	if d.data != nil {
		err = munmapFile(d.data)
		d.data = nil
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// storage is a run of raw bytes holding elements of one type: a safetensors data
// range, or one PyTorch storage (a stored or compressed zip entry).
type storage struct {
	file  *dataFile
	off   int64     // byte offset of element 0 in file (stored data)
	zf    *zip.File // set for a compressed zip entry, read by decompressing
	dtype DType
	numel int64 // elements available
}

// bytes returns the raw bytes of elements [start, start+n). From a mapping it is a view
// without copying; otherwise the bytes are read into a new buffer.
func (s *storage) bytes(start, n int64) ([]byte, error) {
	es := int64(s.dtype.Size())
	if start < 0 || n < 0 || start+n > s.numel {
		return nil, fmt.Errorf("elements [%d,%d) outside storage of %d elements", start, start+n, s.numel)
	}
	lo, length := start*es, n*es
	if s.zf != nil {
		rc, err := s.zf.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if _, err := io.CopyN(io.Discard, rc, lo); err != nil {
			return nil, fmt.Errorf("compressed entry %s: %w", s.zf.Name, err)
		}
		// ReadAll grows with the data actually decompressed, so a lying size in the
		// zip directory cannot force a huge allocation up front.
		buf, err := io.ReadAll(io.LimitReader(rc, length))
		if err != nil {
			return nil, fmt.Errorf("compressed entry %s: %w", s.zf.Name, err)
		}
		if int64(len(buf)) != length {
			return nil, fmt.Errorf("compressed entry %s: %w", s.zf.Name, io.ErrUnexpectedEOF)
		}
		return buf, nil
	}
	abs := s.off + lo
	if abs < 0 || abs+length > s.file.size {
		return nil, fmt.Errorf("data [%d,%d) beyond end of %s (%d bytes)", abs, abs+length, s.file.path, s.file.size)
	}
	if s.file.data != nil {
		return s.file.data[abs : abs+length : abs+length], nil
	}
	buf := make([]byte, length)
	if _, err := s.file.ReadAt(buf, abs); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.file.path, err)
	}
	return buf, nil
}

// tensorEntry locates one tensor inside a storage.
type tensorEntry struct {
	info    TensorInfo
	st      *storage
	offset  int64 // storage offset of the first element, in elements
	strides []int // element strides per dimension; nil when contiguous row-major
}

func (e *tensorEntry) readFloat32(dst []float32) error {
	if !e.info.DType.IsFloat() {
		return fmt.Errorf("dtype %s cannot be read as float32", e.info.DType)
	}
	n := e.info.NumElements()
	if len(dst) != n {
		return fmt.Errorf("destination holds %d elements, tensor %v has %d", len(dst), e.info.Shape, n)
	}
	if n == 0 {
		return nil
	}
	if e.strides == nil {
		raw, err := e.st.bytes(e.offset, int64(n))
		if err != nil {
			return err
		}
		convert(dst, raw, e.info.DType)
		return nil
	}
	// Strided: fetch the span covering every element, then gather.
	span := int64(1)
	for i, d := range e.info.Shape {
		span += int64(d-1) * int64(e.strides[i])
	}
	raw, err := e.st.bytes(e.offset, span)
	if err != nil {
		return err
	}
	gather(dst, raw, e.info.DType, e.info.Shape, e.strides)
	return nil
}

// gather copies a strided tensor (element strides over raw) into dst in row-major order.
func gather(dst []float32, raw []byte, dt DType, shape, strides []int) {
	es := dt.Size()
	idx := make([]int, len(shape))
	off := 0
	for i := range dst {
		dst[i] = convertOne(raw[off*es:], dt)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < shape[d] {
				break
			}
			off -= strides[d] * shape[d]
			idx[d] = 0
		}
	}
}
