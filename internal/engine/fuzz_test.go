package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// FuzzTemplate renders any template that compiles over a fixed context: it
// never panics, a string renders to a string, and as a body value it is
// always JSON (a whole expression keeps its value's type).
func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{"plain", "{{ .input }}", "a{{ .input.n }}b{{ .steps }}", "{{ .input.s | @uri }}", "{{ nan }}", "{{ error(\"x\") }}", "{{ empty }}", "{{ \"\\u0000\" }}", "{{{ }}}"} {
		f.Add(seed)
	}
	rc := runContext(map[string]any{"n": json.Number("1.50"), "s": "a b", "l": []any{1.0, "x", nil}})
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := jqtemplate.CompileTemplate(s)
		if err != nil {
			return
		}
		ctx := context.Background()
		jqCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, _ = renderString(jqCtx, ctx, tmpl, rc)
		node := &bodyNode{template: tmpl}
		var b bytes.Buffer
		if err := node.render(jqCtx, ctx, rc, &b); err == nil && !json.Valid(b.Bytes()) {
			t.Errorf("%q renders to %q, which is not JSON", s, b.String())
		}
	})
}

// FuzzAddressRules: an IPv4 address is judged the same in its IPv4-mapped
// form, and the loopback mode allows two addresses only.
func FuzzAddressRules(f *testing.F) {
	for _, seed := range []string{"127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "8.8.8.8", "::ffff:10.0.0.1", "fe80::1"} {
		f.Add(netip.MustParseAddr(seed).AsSlice())
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ip, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		for _, mode := range []TargetMode{TargetsPublic, TargetsPublicAndPrivate} {
			p := OutboundPolicy{Mode: mode}
			if ip.Is4() && p.allowsAddr(ip) != p.allowsAddr(netip.AddrFrom16(ip.As16())) {
				t.Errorf("%s and its mapped form are judged apart in mode %q", ip, mode)
			}
			if p.allowsAddr(ip) && (ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast()) {
				t.Errorf("%s allowed in mode %q", ip, mode)
			}
			if mode == TargetsPublic && p.allowsAddr(ip) && (ip.IsLoopback() || ip.IsPrivate()) {
				t.Errorf("%s allowed by default", ip)
			}
		}
		if (OutboundPolicy{Mode: TargetsLoopback}).allowsAddr(ip) && ip != loopbackV4 && ip != loopbackV6 {
			t.Errorf("%s allowed in the loopback mode", ip)
		}
	})
}

// FuzzRetryAfter: any value gives a wait between zero and the cap.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{"", "7", "-1", "99999999999999999999", now.Add(time.Hour).Format(http.TimeFormat), "Tue Jan  1 12:01:00 2030", "1e3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if got := parseRetryAfter(value, now); got < 0 || got > maxRetryAfter {
			t.Errorf("%q: %v", value, got)
		}
	})
}
