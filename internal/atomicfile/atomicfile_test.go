package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	tests := []struct {
		name    string
		data    string
		perm    fs.FileMode
		replace bool
		wantErr error
		want    string
	}{
		{"new file", "one", 0o600, false, nil, "one"},
		{"exists, no replace", "two", 0o600, false, fs.ErrExist, "one"},
		{"replace", "three", 0o644, true, nil, "three"},
	}
	for _, tc := range tests {
		err := WriteFile(p, []byte(tc.data), tc.perm, tc.replace)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
		b, rerr := os.ReadFile(p)
		if rerr != nil || string(b) != tc.want {
			t.Fatalf("%s: content %q, %v; want %q", tc.name, b, rerr, tc.want)
		}
		if st, _ := os.Stat(p); err == nil && st.Mode().Perm() != tc.perm {
			t.Errorf("%s: mode %v, want %v", tc.name, st.Mode().Perm(), tc.perm)
		}
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600, true); err == nil {
		t.Error("wrote into a missing directory")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
