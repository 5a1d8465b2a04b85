package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHub speaks the Hub's resolve protocol for one repository: HEAD answers with
// X-Repo-Commit, ETag / X-Linked-Etag, sizes, and for LFS files a redirect to a
// separate "CDN" server that serves Range requests.
type fakeHub struct {
	t      *testing.T
	repo   string
	commit string
	refs   map[string]bool // revisions besides "main" and the commit
	files  map[string][]byte
	lfs    map[string]bool
	token  string // when set, HEAD requires it

	mu         sync.Mutex
	cutNext    int               // the next N CDN GETs send half the body, then break
	corrupt    bool              // the CDN serves different bytes
	extra      int               // the CDN sends this many bytes past the content
	ranges     []string          // Range headers the CDN saw
	cdnAuth    []string          // Authorization headers the CDN saw
	heads      int               // HEAD requests
	served     int64             // body bytes the CDN sent
	cdnContent map[string][]byte // sha256 -> content

	hub, cdn *httptest.Server
}

func newFakeHub(t *testing.T, repo string) *fakeHub {
	h := &fakeHub{t: t, repo: repo, commit: strings.Repeat("ab", 20), refs: map[string]bool{},
		files: map[string][]byte{}, lfs: map[string]bool{}, cdnContent: map[string][]byte{}}
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	t.Cleanup(func() { h.hub.Close(); h.cdn.Close() })
	return h
}

func (h *fakeHub) add(name string, content []byte, lfs bool) {
	h.files[name] = content
	h.lfs[name] = lfs
	if lfs {
		sum := sha256.Sum256(content)
		h.cdnContent[hex.EncodeToString(sum[:])] = content
	}
}

func (h *fakeHub) etag(name string) string {
	c := h.files[name]
	if h.lfs[name] {
		sum := sha256.Sum256(c)
		return hex.EncodeToString(sum[:])
	}
	g := sha1.New()
	fmt.Fprintf(g, "blob %d\x00", len(c))
	g.Write(c)
	return hex.EncodeToString(g.Sum(nil))
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	// /org/name/resolve/<escaped revision>/<file...>
	parts := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/", 5)
	if len(parts) < 5 || parts[0]+"/"+parts[1] != h.repo || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	rev, _ := url.PathUnescape(parts[3])
	file, _ := url.PathUnescape(parts[4])
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	if r.Method == http.MethodHead {
		h.heads++
	}
	h.mu.Unlock()
	if rev != "main" && rev != h.commit && !h.refs[rev] {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Repo-Commit", h.commit)
	content, ok := h.files[file]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	etag := h.etag(file)
	if h.lfs[file] {
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(content)))
		w.Header().Set("Location", h.cdn.URL+"/blob/"+etag)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `W/"`+etag+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	if r.Method == http.MethodGet {
		w.Write(content)
	}
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	sha := strings.TrimPrefix(r.URL.Path, "/blob/")
	content, ok := h.cdnContent[sha]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	cut := h.cutNext > 0
	if cut {
		h.cutNext--
	}
	corrupt := h.corrupt
	h.mu.Unlock()
	if corrupt {
		content = bytes.ToUpper(bytes.Clone(content))
		content[0] ^= 0xff
	}
	start := 0
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n > len(content) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start, status = n, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(content)-1, len(content)))
	}
	body := content[start:]
	if h.extra > 0 {
		body = append(bytes.Clone(body), make([]byte, h.extra)...)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if cut {
		half := body[:len(body)/2]
		w.Write(half)
		h.mu.Lock()
		h.served += int64(len(half))
		h.mu.Unlock()
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // break the connection mid-body
	}
	w.Write(body)
	h.mu.Lock()
	h.served += int64(len(body))
	h.mu.Unlock()
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// tinyRepo is a repository with the files a BTLM model needs, weights as an LFS file.
func tinyRepo(t *testing.T) *fakeHub {
	h := newFakeHub(t, "cerebras/btlm-test")
	h.add("config.json", []byte(`{"model_type":"btlm"}`), false)
	h.add("vocab.json", []byte(`{"a":0}`), false)
	h.add("merges.txt", []byte("#version: 0.2\n"), false)
	h.add("tokenizer_config.json", []byte(`{}`), false)
	h.add("model.safetensors", randomBytes(256<<10, 7), true)
	return h
}

func testOptions(t *testing.T, h *fakeHub) Options {
	return Options{
		Endpoint: h.hub.URL,
		CacheDir: filepath.Join(t.TempDir(), "hub"),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestResolveDownloadsIntoPythonCacheLayout(t *testing.T) {
	h := tinyRepo(t)
	opts := testOptions(t, h)
	dir, err := Resolve(context.Background(), h.repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(opts.CacheDir, "models--cerebras--btlm-test")
	if want := filepath.Join(repoDir, "snapshots", h.commit); dir != want {
		t.Fatalf("dir = %s, want %s", dir, want)
	}
	if ref := readFile(t, filepath.Join(repoDir, "refs", "main")); string(ref) != h.commit {
		t.Fatalf("refs/main = %q, want the commit without newline", ref)
	}
	for name, content := range h.files {
		p := filepath.Join(dir, name)
		if !bytes.Equal(readFile(t, p), content) {
			t.Errorf("%s: content differs", name)
		}
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatalf("%s is not a symlink: %v", name, err)
		}
		if want := "../../blobs/" + h.etag(name); target != want {
			t.Errorf("%s -> %s, want %s", name, target, want)
		}
	}
	for _, absent := range []string{"tokenizer.json", "model.safetensors.index.json"} {
		if _, err := os.Stat(filepath.Join(repoDir, ".no_exist", h.commit, absent)); err != nil {
			t.Errorf("no .no_exist marker for %s: %v", absent, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pytorch_model.bin")); !os.IsNotExist(err) {
		t.Errorf("pytorch_model.bin fetched although safetensors exist: %v", err)
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("authorization sent to the CDN: %q", a)
		}
	}

	// A second resolve is a cache hit: one HEAD for the revision, no body transfer.
	h.heads, h.served = 0, 0
	if _, err := Resolve(context.Background(), h.repo, opts); err != nil {
		t.Fatal(err)
	}
	if h.heads != 1 || h.served != 0 {
		t.Errorf("cache hit made %d HEADs and transferred %d bytes, want 1 and 0", h.heads, h.served)
	}
}

func TestInterruptedDownloadResumes(t *testing.T) {
	h := tinyRepo(t)
	h.cutNext = 2
	opts := testOptions(t, h)
	dir, err := Resolve(context.Background(), h.repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "model.safetensors")), h.files["model.safetensors"]) {
		t.Fatal("resumed content differs")
	}
	if len(h.ranges) != 3 || h.ranges[0] != "" || !strings.HasPrefix(h.ranges[1], "bytes=") || !strings.HasPrefix(h.ranges[2], "bytes=") {
		t.Fatalf("CDN requests' Range headers = %q, want a full GET then two resumed ranges", h.ranges)
	}
	size := int64(len(h.files["model.safetensors"]))
	if h.served >= 2*size {
		t.Errorf("served %d bytes for a %d-byte file: not resumed", h.served, size)
	}
	if m, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*", "blobs", "*.incomplete")); len(m) != 0 {
		t.Errorf("partial files left: %v", m)
	}
}

// TestPartialFileFromEarlierProcess: a partial download left by another process is
// resumed with a Range request; one longer than the file is discarded and the
// download starts over.
func TestPartialFileFromEarlierProcess(t *testing.T) {
	content := tinyRepo(t).files["model.safetensors"]
	tests := []struct {
		name      string
		partial   []byte
		wantRange string
		served    int
	}{
		{"resumes", content[:100000], "bytes=100000-", len(content) - 100000},
		{"oversized starts over", append(bytes.Clone(content), "junk"...), "", len(content)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tinyRepo(t)
			opts := testOptions(t, h)
			blobs := filepath.Join(opts.CacheDir, "models--cerebras--btlm-test", "blobs")
			if err := os.MkdirAll(blobs, 0o755); err != nil {
				t.Fatal(err)
			}
			part := filepath.Join(blobs, h.etag("model.safetensors")+".0badc0de.incomplete")
			if err := os.WriteFile(part, tc.partial, 0o644); err != nil {
				t.Fatal(err)
			}
			dir, err := Resolve(context.Background(), h.repo, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, filepath.Join(dir, "model.safetensors")), content) {
				t.Fatal("content differs")
			}
			if len(h.ranges) != 1 || h.ranges[0] != tc.wantRange {
				t.Fatalf("Range headers = %q, want [%q]", h.ranges, tc.wantRange)
			}
			if h.served != int64(tc.served) {
				t.Errorf("served %d bytes, want %d", h.served, tc.served)
			}
		})
	}
}

func TestBodyPastAnnouncedSizeRejected(t *testing.T) {
	h := tinyRepo(t)
	h.extra = 1 << 20
	opts := testOptions(t, h)
	_, err := Resolve(context.Background(), h.repo, opts)
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "announced") {
		t.Fatalf("err = %v, want a corruption error about the announced size", err)
	}
	blobs := filepath.Join(opts.CacheDir, "models--cerebras--btlm-test", "blobs")
	if _, err := os.Stat(filepath.Join(blobs, h.etag("model.safetensors"))); !os.IsNotExist(err) {
		t.Error("oversized blob stored")
	}
	if m, _ := filepath.Glob(filepath.Join(blobs, "*.incomplete")); len(m) != 0 {
		t.Errorf("oversized partial kept: %v", m)
	}
}

func TestCorruptedBlobRejected(t *testing.T) {
	h := tinyRepo(t)
	h.corrupt = true
	opts := testOptions(t, h)
	_, err := Resolve(context.Background(), h.repo, opts)
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("err = %v, want a corruption error naming the file", err)
	}
	blobs := filepath.Join(opts.CacheDir, "models--cerebras--btlm-test", "blobs")
	if _, err := os.Stat(filepath.Join(blobs, h.etag("model.safetensors"))); !os.IsNotExist(err) {
		t.Error("corrupted blob stored")
	}
	if m, _ := filepath.Glob(filepath.Join(blobs, "*.incomplete")); len(m) != 0 {
		t.Errorf("corrupted partial kept: %v", m)
	}
	// The next attempt, with a healthy CDN, succeeds from scratch.
	h.corrupt = false
	if _, err := Resolve(context.Background(), h.repo, opts); err != nil {
		t.Fatal(err)
	}
}

func TestOfflineAndUnreachableUseTheCache(t *testing.T) {
	h := tinyRepo(t)
	opts := testOptions(t, h)

	offline := opts
	offline.Offline = true
	if _, err := Resolve(context.Background(), h.repo, offline); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Fatalf("offline with an empty cache: err = %v, want a clear error", err)
	}
	want, err := Resolve(context.Background(), h.repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.hub.Close()
	h.cdn.Close()
	for name, o := range map[string]Options{"offline": offline, "unreachable": opts} {
		got, err := Resolve(context.Background(), h.repo, o)
		if err != nil || got != want {
			t.Errorf("%s: Resolve = %q, %v; want %q", name, got, err, want)
		}
	}
	other := opts
	other.Revision = "v2"
	if _, err := Resolve(context.Background(), h.repo, other); err == nil {
		t.Error("uncached revision with the hub down: want an error")
	}
}

func TestShardedWeights(t *testing.T) {
	h := newFakeHub(t, "org/sharded")
	h.add("config.json", []byte(`{}`), false)
	h.add("tokenizer.json", []byte(`{}`), false)
	h.add("pytorch_model.bin.index.json", []byte(`{"metadata":{},"weight_map":{"a":"pytorch_model-00001-of-00002.bin","b":"pytorch_model-00002-of-00002.bin","c":"pytorch_model-00001-of-00002.bin"}}`), false)
	h.add("pytorch_model-00001-of-00002.bin", randomBytes(5000, 1), true)
	h.add("pytorch_model-00002-of-00002.bin", randomBytes(7000, 2), true)
	dir, err := Resolve(context.Background(), h.repo, testOptions(t, h))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"} {
		if !bytes.Equal(readFile(t, filepath.Join(dir, f)), h.files[f]) {
			t.Errorf("%s differs", f)
		}
	}
}

func TestMissingShardAndMissingWeightsAreErrors(t *testing.T) {
	h := newFakeHub(t, "org/broken")
	h.add("config.json", []byte(`{}`), false)
	h.add("tokenizer.json", []byte(`{}`), false)
	if _, err := Resolve(context.Background(), h.repo, testOptions(t, h)); err == nil || !strings.Contains(err.Error(), "no weights") {
		t.Fatalf("err = %v, want 'no weights'", err)
	}
	h.add("model.safetensors.index.json", []byte(`{"weight_map":{"a":"model-1.safetensors"}}`), false)
	if _, err := Resolve(context.Background(), h.repo, testOptions(t, h)); err == nil || !strings.Contains(err.Error(), "model-1.safetensors") {
		t.Fatalf("err = %v, want the missing shard named", err)
	}
}

func TestGatedRepositoryNeedsToken(t *testing.T) {
	h := tinyRepo(t)
	h.token = "hf_secret"
	opts := testOptions(t, h)
	_, err := Resolve(context.Background(), h.repo, opts)
	if err == nil || !strings.Contains(err.Error(), "HF_TOKEN") || strings.Contains(err.Error(), "hf_secret") {
		t.Fatalf("err = %v, want a hint about HF_TOKEN", err)
	}
	opts.Token = "hf_secret"
	if _, err := Resolve(context.Background(), h.repo, opts); err != nil {
		t.Fatal(err)
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("token sent to the CDN: %q", a)
		}
	}
}

func TestPullRequestRevision(t *testing.T) {
	h := tinyRepo(t)
	h.refs["refs/pr/1"] = true
	opts := testOptions(t, h)
	opts.Revision = "refs/pr/1"
	if _, err := Resolve(context.Background(), h.repo, opts); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(opts.CacheDir, "models--cerebras--btlm-test", "refs", "refs", "pr", "1")
	if got := readFile(t, ref); string(got) != h.commit {
		t.Fatalf("refs/refs/pr/1 = %q", got)
	}
}

func TestResolveSpecs(t *testing.T) {
	local := t.TempDir()
	file := filepath.Join(local, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		spec, rev, want, err string
	}{
		{spec: local, want: local},
		{spec: file, err: "not a directory"},
		{spec: "../../etc", err: "does not exist"},
		{spec: "a/b/c", err: "does not exist"},
		{spec: "org/name", rev: "../../x", err: "invalid revision"},
	} {
		got, err := Resolve(context.Background(), tc.spec, Options{Revision: tc.rev, Offline: true})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v", tc.spec, got, err)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_ENDPOINT", "http://mirror.local/")
	t.Setenv("HF_HUB_OFFLINE", "1")
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_file\n"), 0o600)
	o := OptionsFromEnv()
	if o.CacheDir != filepath.Join(home, "hub") || o.Token != "hf_file" || o.Endpoint != "http://mirror.local" || !o.Offline {
		t.Fatalf("OptionsFromEnv = %+v", o)
	}
	t.Setenv("HF_HUB_CACHE", "/x/cache")
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("HF_HUB_OFFLINE", "")
	o = OptionsFromEnv()
	if o.CacheDir != "/x/cache" || o.Token != "hf_env" || o.Offline {
		t.Fatalf("OptionsFromEnv = %+v", o)
	}
}

func FuzzParseShardIndex(f *testing.F) {
	f.Add([]byte(`{"weight_map":{"a":"x.bin"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x.bin"}}`))
	f.Add([]byte(`{"weight_map":{}}`))
	f.Add([]byte(`{"weight_map":{"a":"..0","b":"a/../../x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := parseShardIndex(b)
		if err != nil {
			return
		}
		for _, name := range files {
			clean := filepath.Clean(name)
			if checkRepoFile(name) != nil || filepath.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") {
				t.Fatalf("unsafe shard name accepted: %q", name)
			}
		}
	})
}
