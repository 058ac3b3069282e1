package engine

import (
	"net/netip"
	"testing"
)

// The address rules, judged on addresses as DNS would answer them: nothing
// is sent.
func TestAddressRules(t *testing.T) {
	const (
		refused = iota
		public  // allowed by every mode but loopback
		private // allowed with ALLOW_PRIVATE_TARGETS=1
		loop    // allowed in every mode but the default (the loopback mode: 127.0.0.1 and ::1 only)
	)
	for addr, class := range map[string]int{
		"93.184.215.14":          public,
		"203.0.113.7":            public,
		"8.8.8.8":                public,
		"2606:4700::1111":        public,
		"::ffff:8.8.8.8":         public,
		"64:ff9b::808:808":       public, // NAT64 of 8.8.8.8
		"127.0.0.1":              loop,
		"::1":                    loop,
		"127.1.2.3":              private, // loopback, but not one the loopback mode names
		"::ffff:127.0.0.1":       private,
		"10.0.0.1":               private,
		"172.16.0.1":             private,
		"172.31.255.255":         private,
		"192.168.1.1":            private,
		"fd12:3456::1":           private,
		"::ffff:10.0.0.1":        private,
		"64:ff9b::a00:1":         private, // NAT64 of 10.0.0.1
		"2002:a00:1::1":          private, // 6to4 of 10.0.0.1
		"172.32.0.1":             public,
		"169.254.169.254":        refused, // the metadata service: link-local
		"::ffff:169.254.169.254": refused,
		"64:ff9b::a9fe:a9fe":     refused,
		"fd00:ec2::254":          refused, // AWS's IPv6 metadata, inside fc00::/7
		"169.254.1.1":            refused,
		"fe80::1":                refused,
		"fe80::1%eth0":           refused,
		"0.0.0.0":                refused,
		"0.1.2.3":                refused,
		"::":                     refused,
		"::10.0.0.1":             refused, // IPv4-compatible, deprecated
		"100.64.0.1":             refused, // carrier-grade NAT
		"100.100.100.200":        refused, // Alibaba's metadata, inside it
		"192.0.0.192":            refused,
		"224.0.0.1":              refused,
		"ff02::1":                refused,
		"255.255.255.255":        refused,
		"240.0.0.1":              refused,
	} {
		ip := netip.MustParseAddr(addr)
		want := map[TargetMode]bool{
			TargetsPublic:           class == public,
			TargetsPublicAndPrivate: class == public || class == private || class == loop,
			TargetsLoopback:         class == loop,
		}
		for mode, allowed := range want {
			if got := (OutboundPolicy{Mode: mode}).allowsAddr(ip); got != allowed {
				t.Errorf("%s in mode %q: allowed %v, want %v", addr, mode, got, allowed)
			}
		}
	}
	if (OutboundPolicy{}).allowsAddr(netip.Addr{}) {
		t.Error("the zero address is allowed")
	}
}

func TestPolicyFromEnv(t *testing.T) {
	for _, tc := range []struct {
		targets, allowPrivate string
		want                  TargetMode
		bad                   bool
	}{
		{"", "", TargetsPublic, false},
		{"loopback", "", TargetsLoopback, false},
		{"", "1", TargetsPublicAndPrivate, false},
		{"loopback", "1", TargetsLoopback, false},
		{"public", "", "", true},
		{"", "true", "", true},
		{"Loopback", "", "", true},
	} {
		t.Setenv("HTTP_STEP_TARGETS", tc.targets)
		t.Setenv("ALLOW_PRIVATE_TARGETS", tc.allowPrivate)
		p, err := PolicyFromEnv()
		if (err != nil) != tc.bad || (!tc.bad && p.Mode != tc.want) {
			t.Errorf("%q, %q: %+v, %v", tc.targets, tc.allowPrivate, p, err)
		}
	}
}

func TestLoopbackHostCheck(t *testing.T) {
	p := OutboundPolicy{Mode: TargetsLoopback}
	for host, allowed := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "::1": true,
		"localhost.": false, "127.0.0.2": false, "example.com": false, "0x7f000001": false, "": false,
	} {
		if got := p.checkHost(host) == nil; got != allowed {
			t.Errorf("%q: allowed %v, want %v", host, got, allowed)
		}
	}
	// The other modes judge addresses when dialling, not names.
	if (OutboundPolicy{}).checkHost("example.com") != nil {
		t.Error("the default mode refused a name before resolving it")
	}
}
