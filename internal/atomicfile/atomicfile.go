// Package atomicfile writes whole files so that a reader, or a crash, sees either
// the old content or the new one, never a part: the data goes to a temporary file in
// the same directory, is synced, and only then takes the final name.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path with mode perm. The directory must exist. With
// replace, the temporary file is renamed over path. Without it, an existing path is
// never replaced, even by a writer racing this one: the temporary file is hard-linked
// to path, and an existing path gives an error wrapping fs.ErrExist. (On a file system
// without hard links it falls back to check-then-rename.) The directory is synced
// afterwards, best effort, so that the new name survives a crash.
func WriteFile(path string, data []byte, perm fs.FileMode, replace bool) (err error) {
	exists := func() error { return fmt.Errorf("%s: %w", path, fs.ErrExist) }
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return exists()
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
		}
	}()
	_, werr := tmp.Write(data)
	err = errors.Join(tmp.Chmod(perm), werr, tmp.Sync(), tmp.Close())
	if err != nil {
		return err
	}
	switch {
	case replace:
		err = os.Rename(tmpName, path)
	default:
		err = os.Link(tmpName, path)
		switch {
		case err == nil:
			os.Remove(tmpName)
		case errors.Is(err, fs.ErrExist):
			return exists()
		default: // no hard links here
			if _, statErr := os.Lstat(path); statErr == nil {
				return exists()
			}
			err = os.Rename(tmpName, path)
		}
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
