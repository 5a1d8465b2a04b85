package synapse

import (
	"regexp"
	"testing"
)

func TestNewUUID(t *testing.T) {
	uuid1 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		u := NewUUID()
		if !uuid1.MatchString(u) {
			t.Fatalf("NewUUID() = %q, not in the str(uuid.uuid1()) form", u)
		}
		if seen[u] {
			t.Fatalf("NewUUID() repeated %q", u)
		}
		seen[u] = true
	}
}
