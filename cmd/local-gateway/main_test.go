package main

import "testing"

func TestListenAddress(t *testing.T) {
	for _, tc := range []struct {
		name           string
		env            map[string]string
		wantHost, port string
	}{
		{"is loopback on 3000 by default", nil, "127.0.0.1", "3000"},
		{"takes PORT", map[string]string{"PORT": "8080"}, "127.0.0.1", "8080"},
		{"reaches the network only when HOST says so", map[string]string{"HOST": "0.0.0.0"}, "0.0.0.0", "3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port := listenAddress(func(k string) string { return tc.env[k] })
			if host != tc.wantHost || port != tc.port {
				t.Fatalf("listenAddress = %s:%s, want %s:%s", host, port, tc.wantHost, tc.port)
			}
		})
	}
}
