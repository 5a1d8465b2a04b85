// Package hub fetches model repositories from the Hugging Face Hub into the standard
// Hugging Face cache, so the files are shared with Python users of huggingface_hub.
//
// The cache layout and the download protocol follow huggingface_hub's file_download.py
// and the Hub's "local cache" documentation (hub-docs docs/hub/local-cache.md):
//
//	<cache>/models--<org>--<name>/refs/<revision>              the commit sha, no newline
//	<cache>/models--<org>--<name>/blobs/<etag>                 file content
//	<cache>/models--<org>--<name>/snapshots/<commit>/<file>    relative symlink to the blob
//	<cache>/models--<org>--<name>/.no_exist/<commit>/<file>    marker: absent at that commit
//	<cache>/.locks/models--<org>--<name>/<etag>.lock           lock held while a blob downloads
//
// Unlike Python, every downloaded blob is verified: LFS blobs (64-hex etag) against
// their SHA-256, git blobs (40-hex etag) against their git blob SHA-1.
package hub

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/btlm-miner/btlm-miner/internal/atomicfile"
)

var (
	repoIDPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
	revisionPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	commitPattern   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// IsRepoID reports whether s has the shape of a Hub repository id ("org/name").
func IsRepoID(s string) bool {
	return repoIDPattern.MatchString(s) && !strings.Contains(s, "..")
}

// checkRevision refuses revisions that could escape the refs directory.
func checkRevision(rev string) error {
	if !revisionPattern.MatchString(rev) || strings.Contains(rev, "..") {
		return fmt.Errorf("invalid revision %q", rev)
	}
	return nil
}

// checkRepoFile refuses repository file names that could escape the snapshot directory.
func checkRepoFile(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") ||
		path.Clean(name) != name || name == "." || strings.HasPrefix(name, "../") || name == ".." {
		return fmt.Errorf("invalid repository file name %q", name)
	}
	return nil
}

// repoCache is one repository's folder in the cache.
type repoCache struct {
	root string // <cache>
	dir  string // <cache>/models--org--name
	lock string // <cache>/.locks/models--org--name
}

func newRepoCache(cacheDir, repoID string) repoCache {
	folder := "models--" + strings.ReplaceAll(repoID, "/", "--")
	return repoCache{
		root: cacheDir,
		dir:  filepath.Join(cacheDir, folder),
		lock: filepath.Join(cacheDir, ".locks", folder),
	}
}

func (c repoCache) blobPath(etag string) string { return filepath.Join(c.dir, "blobs", etag) }

func (c repoCache) snapshotDir(commit string) string {
	return filepath.Join(c.dir, "snapshots", commit)
}

func (c repoCache) snapshotPath(commit, file string) string {
	return filepath.Join(c.snapshotDir(commit), filepath.FromSlash(file))
}

func (c repoCache) noExistPath(commit, file string) string {
	return filepath.Join(c.dir, ".no_exist", commit, filepath.FromSlash(file))
}

// commitFor returns the commit a revision points to in the cache: the revision itself
// when it is a commit sha, else the content of refs/<revision>.
func (c repoCache) commitFor(revision string) (string, error) {
	if commitPattern.MatchString(revision) {
		return revision, nil
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "refs", filepath.FromSlash(revision)))
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(string(b))
	if !commitPattern.MatchString(commit) {
		return "", fmt.Errorf("cache ref %s holds %q, not a commit sha", revision, commit)
	}
	return commit, nil
}

// writeRef records that revision points to commit (atomically, no trailing newline,
// as Python reads the file without stripping).
func (c repoCache) writeRef(revision, commit string) error {
	if revision == commit {
		return nil
	}
	p := filepath.Join(c.dir, "refs", filepath.FromSlash(revision))
	if old, err := os.ReadFile(p); err == nil && string(old) == commit {
		return nil
	}
	return writeFileAtomic(p, []byte(commit))
}

// cached reports whether file is in the snapshot of commit (a hit), known absent (a
// .no_exist marker), or unknown.
func (c repoCache) cached(commit, file string) (hit, absent bool) {
	if _, err := os.Stat(c.snapshotPath(commit, file)); err == nil {
		return true, false
	}
	if _, err := os.Stat(c.noExistPath(commit, file)); err == nil {
		return false, true
	}
	return false, false
}

// link points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink, as
// huggingface_hub does; an existing link to the same blob is kept.
func (c repoCache) link(commit, file, etag string) error {
	p := c.snapshotPath(commit, file)
	depth := strings.Count(file, "/")
	target := strings.Repeat("../", depth+2) + "blobs/" + etag
	if cur, err := os.Readlink(p); err == nil && cur == target {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp-link"
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.FromSlash(target), tmp); err != nil {
		return fmt.Errorf("link %s: %w", file, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", file, err)
	}
	return nil
}

// markAbsent writes the .no_exist marker for file at commit.
func (c repoCache) markAbsent(commit, file string) error {
	p := c.noExistPath(commit, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// writeFileAtomic writes data to path (mode 0644) through internal/atomicfile,
// replacing any old content and creating missing directories.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644, true)
}
