package axon

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestSchedulerDropsJobsThatCannotFinish(t *testing.T) {
	s := newScheduler(1, 4, 50*time.Millisecond)
	defer func() { s.close(); s.wait(context.Background()) }()
	var mu sync.Mutex
	var events []string
	record := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	block := make(chan struct{})
	started := make(chan struct{})
	done := make(chan struct{}, 3)
	mk := func(name string, prio float64, deadline time.Time, run func()) *job {
		return &job{priority: prio, deadline: deadline, index: -1,
			run:  func() { record("run " + name); run(); done <- struct{}{} },
			drop: func() { record("drop " + name); done <- struct{}{} }}
	}
	for range 3 {
		if err := s.reserve(); err != nil {
			t.Fatal(err)
		}
	}
	s.submit(mk("blocker", 0, time.Now().Add(time.Minute), func() { close(started); <-block }))
	<-started
	// Queued behind the blocker: one whose deadline will be too close when its turn
	// comes, one with plenty of time but lower priority.
	s.submit(mk("late", 10, time.Now().Add(60*time.Millisecond), func() {}))
	s.submit(mk("fine", 1, time.Now().Add(time.Minute), func() {}))
	time.Sleep(30 * time.Millisecond) // "late" now has < 50 ms left
	close(block)
	for range 3 {
		<-done
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"run blocker", "drop late", "run fine"}
	if len(events) != 3 || events[0] != want[0] || events[1] != want[1] || events[2] != want[2] {
		t.Errorf("events %v, want %v", events, want)
	}
	if st := s.stats(); st.Queued != 0 || st.Running != 0 {
		t.Errorf("stats after drain %+v", st)
	}
}

func TestSchedulerCapacityWithdrawAndClose(t *testing.T) {
	s := newScheduler(1, 2, time.Millisecond)
	block := make(chan struct{})
	started := make(chan struct{})
	if err := s.reserve(); err != nil {
		t.Fatal(err)
	}
	s.submit(&job{deadline: time.Now().Add(time.Minute), index: -1, run: func() { close(started); <-block }, drop: func() {}})
	<-started
	if s.reserve() != nil || s.reserve() != nil {
		t.Fatal("two free slots refused")
	}
	if err := s.reserve(); err != errQueueFull {
		t.Fatalf("third reserve: %v, want queue full", err)
	}
	s.release()
	ran := false
	j := &job{deadline: time.Now().Add(time.Minute), index: -1, run: func() { ran = true }, drop: func() {}}
	s.submit(j)
	if !s.withdraw(j) || s.withdraw(j) {
		t.Fatal("withdraw of a queued job must succeed exactly once")
	}
	if st := s.stats(); st.Queued != 0 {
		t.Fatalf("withdrawn job still holds a slot: %+v", st)
	}
	s.close()
	if err := s.reserve(); err != errShuttingDown {
		t.Fatalf("reserve after close: %v", err)
	}
	close(block)
	if err := s.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Error("withdrawn job ran")
	}
}
