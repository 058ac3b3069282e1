package awstest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// HungEndpoint is an AWS endpoint on 127.0.0.1 that accepts every connection
// and never answers, as a stalled service would: the tests of each client's
// call budget (awsbudget) point a client at it. accepted counts connections,
// one per attempt, since a connection whose attempt ran out is never reused.
// The connections are closed when the test ends.
func HungEndpoint(tb testing.TB) (endpoint string, accepted *atomic.Int32) {
	tb.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	accepted = &atomic.Int32{}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = listener.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return "http://" + listener.Addr().String(), accepted
}
