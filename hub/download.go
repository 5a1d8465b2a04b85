package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotFound means the repository has no such file at the requested revision.
var ErrNotFound = errors.New("not found on the hub")

// errHubUnreachable marks failures to reach the Hub at all, after which the cache
// is used instead when it can answer.
var errHubUnreachable = errors.New("hub unreachable")

var etagPattern = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// fileMeta is what the Hub's HEAD on a resolve URL says about one file.
type fileMeta struct {
	commit   string // X-Repo-Commit
	etag     string // X-Linked-Etag or ETag, unquoted: git blob sha1 or LFS sha256
	size     int64  // X-Linked-Size or Content-Length; -1 when unknown
	location string // where to GET the content (the CDN URL for LFS files)
}

// client speaks the Hub's resolve protocol for one repository.
type client struct {
	opts   Options
	repoID string
	cache  repoCache
}

func (c *client) resolveURL(revision, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.opts.Endpoint + "/" + c.repoID + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(segs, "/")
}

// head asks the Hub for a file's commit, etag, size and download location. It follows
// relative redirects (renamed repositories) but not redirects to another host (the
// CDN), whose Location is the download URL.
func (c *client) head(ctx context.Context, revision, file string) (fileMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := c.resolveURL(revision, file)
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return fileMeta{}, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	c.authorize(req)
	hc := *c.opts.HTTPClient
	hc.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		if r.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		c.authorize(r)
		return nil
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fileMeta{}, fmt.Errorf("%w: HEAD %s: %v", errHubUnreachable, u, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fileMeta{commit: resp.Header.Get("X-Repo-Commit")}, fmt.Errorf("%s %s at %s: %w", c.repoID, file, revision, ErrNotFound)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fileMeta{}, fmt.Errorf("%s: access denied (HTTP %d): the repository is gated or private; set HF_TOKEN to a token that has access", c.repoID, resp.StatusCode)
	case resp.StatusCode >= 500:
		return fileMeta{}, fmt.Errorf("%w: HEAD %s: HTTP %d", errHubUnreachable, u, resp.StatusCode)
	case resp.StatusCode >= 400:
		return fileMeta{}, fmt.Errorf("HEAD %s: HTTP %d", u, resp.StatusCode)
	}
	m := fileMeta{
		commit: resp.Header.Get("X-Repo-Commit"),
		etag:   normalizeEtag(firstNonEmpty(resp.Header.Get("X-Linked-Etag"), resp.Header.Get("ETag"))),
		size:   -1,
	}
	if s, err := strconv.ParseInt(firstNonEmpty(resp.Header.Get("X-Linked-Size"), resp.Header.Get("Content-Length")), 10, 64); err == nil && s >= 0 {
		m.size = s
	}
	if !commitPattern.MatchString(m.commit) {
		return fileMeta{}, fmt.Errorf("HEAD %s: missing or invalid X-Repo-Commit %q (is HF_ENDPOINT a Hugging Face Hub?)", u, m.commit)
	}
	if !etagPattern.MatchString(m.etag) {
		return fileMeta{}, fmt.Errorf("HEAD %s: missing or invalid ETag %q", u, m.etag)
	}
	m.location = u
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		ref, err := resp.Request.URL.Parse(loc)
		if err != nil {
			return fileMeta{}, fmt.Errorf("HEAD %s: bad Location %q", u, loc)
		}
		m.location = ref.String()
	}
	return m, nil
}

func (c *client) authorize(r *http.Request) {
	if c.opts.Token != "" {
		r.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
}

// normalizeEtag strips a weak-validator prefix and quotes.
func normalizeEtag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.Trim(s, `"`)
}

// fetchBlob makes sure blobs/<etag> holds the verified content of m, downloading it
// under the blob's lock when absent. A partial download (<etag>.<hex>.incomplete) left by
// an earlier attempt or process is resumed with an HTTP Range request.
func (c *client) fetchBlob(ctx context.Context, file string, m fileMeta) error {
	blob := c.cache.blobPath(m.etag)
	if _, err := os.Stat(blob); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(c.cache.lock, m.etag+".lock"))
	if err != nil {
		return fmt.Errorf("lock %s: %w", file, err)
	}
	defer unlock()
	if _, err := os.Stat(blob); err == nil {
		return nil // another process finished it while we waited
	}
	part, err := partialFile(blob)
	if err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt <= c.opts.Retries; attempt++ {
		if attempt > 0 {
			backoff := time.Duration(1<<min(attempt-1, 4)) * 200 * time.Millisecond
			c.opts.Logger.Warn("download interrupted, resuming", "file", file, "attempt", attempt, "err", lastErr)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
		}
		lastErr = c.download(ctx, file, m, part)
		if lastErr == nil || !isRetryable(lastErr) || ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return lastErr
	}
	if err := os.Rename(part, blob); err != nil {
		return fmt.Errorf("store %s: %w", file, err)
	}
	return nil
}

// errCorrupt marks content that does not match its etag; it is not retried.
var errCorrupt = errors.New("corrupted download")

type retryableError struct{ error }

func (e retryableError) Unwrap() error { return e.error }

func isRetryable(err error) bool {
	var r retryableError
	return errors.As(err, &r)
}

// download appends the missing tail of m's content to part, then verifies the whole
// file against the etag. Verification failure removes the partial file.
func (c *client) download(ctx context.Context, file string, m fileMeta, part string) error {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	h := newVerifier(m.etag, m.size)
	have, err := io.Copy(h, f) // hash what an earlier attempt left
	switch {
	case errors.Is(err, errCorrupt): // longer than the file: start over
		h, have = newVerifier(m.etag, m.size), 0
	case err != nil:
		return fmt.Errorf("read partial %s: %w", file, err)
	}
	if m.size >= 0 && have < m.size {
		if err := checkFreeSpace(filepath.Dir(part), m.size-have); err != nil {
			return err
		}
	}
	if m.size < 0 || have < m.size {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.location, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept-Encoding", "identity")
		if sameHost(m.location, c.opts.Endpoint) {
			c.authorize(req) // never send the token to the CDN, as huggingface_hub
		}
		if have > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		}
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			return retryableError{fmt.Errorf("GET %s: %w", file, err)}
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusPartialContent && have > 0:
		case resp.StatusCode == http.StatusOK:
			if have > 0 { // the server ignored Range: start over
				h = newVerifier(m.etag, m.size)
				have = 0
			}
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			return retryableError{fmt.Errorf("GET %s: HTTP %d", file, resp.StatusCode)}
		default:
			return fmt.Errorf("GET %s: HTTP %d", file, resp.StatusCode)
		}
		if err := f.Truncate(have); err != nil {
			return err
		}
		if _, err := f.Seek(have, io.SeekStart); err != nil {
			return err
		}
		bar := newProgress(c.opts, file, have, m.size)
		body := &stallReader{r: resp.Body, timeout: c.opts.Timeout * 3, cancel: cancel}
		// The verifier comes first: it refuses bytes past the announced size before
		// they reach the disk.
		n, err := io.Copy(io.MultiWriter(h, f, bar), body)
		bar.done()
		if errors.Is(err, errCorrupt) {
			f.Close()
			_ = os.Remove(part)
			return fmt.Errorf("GET %s: %w", file, err)
		}
		if err != nil {
			return retryableError{fmt.Errorf("GET %s: body after %d bytes: %w", file, have+n, err)}
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := h.verify(); err != nil {
		f.Close()
		_ = os.Remove(part)
		return fmt.Errorf("%s: %w: %v", file, errCorrupt, err)
	}
	return nil
}

// stallReader cancels the transfer when no byte arrives for timeout.
type stallReader struct {
	r       io.Reader
	timeout time.Duration
	cancel  context.CancelFunc
}

func (s *stallReader) Read(p []byte) (int, error) {
	t := time.AfterFunc(s.timeout, s.cancel)
	n, err := s.r.Read(p)
	t.Stop()
	return n, err
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host
}

// verifier hashes content as it streams: SHA-256 for LFS etags, git's blob SHA-1
// ("blob <size>\x00" + content) for 40-hex etags.
type verifier struct {
	etag string
	size int64
	n    int64
	sha  hash.Hash
	body []byte // git blobs only: the blob header needs the size, which may be unknown up front
}

func newVerifier(etag string, size int64) *verifier {
	v := &verifier{etag: etag, size: size}
	if len(etag) == 64 {
		v.sha = sha256.New()
	}
	return v
}

// Write hashes p. It fails, wrapping errCorrupt, once the content would pass the
// announced size (or 64 MiB for a git-stored file of unknown size), so that a server
// cannot fill the disk or the memory.
func (v *verifier) Write(p []byte) (int, error) {
	if v.size >= 0 && v.n+int64(len(p)) > v.size {
		return 0, fmt.Errorf("%w: more than the announced %d bytes", errCorrupt, v.size)
	}
	v.n += int64(len(p))
	if v.sha != nil {
		return v.sha.Write(p)
	}
	if v.n > 64<<20 {
		return 0, fmt.Errorf("%w: git-stored file larger than 64 MiB", errCorrupt)
	}
	v.body = append(v.body, p...)
	return len(p), nil
}

func (v *verifier) verify() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("size %d, expected %d", v.n, v.size)
	}
	var sum []byte
	if v.sha != nil {
		sum = v.sha.Sum(nil)
	} else {
		g := sha1.New()
		fmt.Fprintf(g, "blob %d\x00", len(v.body))
		g.Write(v.body)
		sum = g.Sum(nil)
	}
	if got := hex.EncodeToString(sum); got != v.etag {
		return fmt.Errorf("content hash %s, expected %s", got, v.etag)
	}
	return nil
}

// partialFile returns the partial download to resume for blob: the largest existing
// <etag>.*.incomplete, or a new unique name (huggingface_hub >= 1.0 naming).
func partialFile(blob string) (string, error) {
	matches, _ := filepath.Glob(blob + ".*.incomplete")
	sort.Slice(matches, func(i, j int) bool { return fileSize(matches[i]) > fileSize(matches[j]) })
	if len(matches) > 0 {
		return matches[0], nil
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return blob + "." + hex.EncodeToString(r[:]) + ".incomplete", nil
}

func fileSize(p string) int64 {
	if st, err := os.Stat(p); err == nil {
		return st.Size()
	}
	return -1
}

// lockFile takes an exclusive flock on path (created 0664, as Python's filelock).
func lockFile(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o664)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func checkFreeSpace(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // unknown: let the write fail if it must
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < need {
		return fmt.Errorf("not enough disk space in %s: need %d bytes, %d free", dir, need, free)
	}
	return nil
}
