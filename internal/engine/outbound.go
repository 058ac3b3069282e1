package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// TargetMode is which addresses http steps may reach (DESIGN.md, "Outbound
// traffic").
type TargetMode string

// The modes of the outbound policy.
const (
	// TargetsPublic, the default (and the zero value), reaches public
	// addresses only: loopback, private, link-local (the cloud metadata
	// service among them), carrier-grade NAT, multicast, unspecified and
	// reserved addresses are refused, checked on every address actually
	// dialled, after DNS, for the first request and every redirect.
	TargetsPublic TargetMode = ""
	// TargetsPublicAndPrivate (ALLOW_PRIVATE_TARGETS=1) also reaches
	// loopback and the private ranges (10/8, 172.16/12, 192.168/16,
	// fc00::/7), a deployment's own choice, e.g. local development against
	// local services. Link-local stays refused, and so do the metadata
	// addresses inside the private ranges (AWS's fd00:ec2::254): letting a
	// workflow reach local services is not letting it read the function's
	// cloud credentials.
	TargetsPublicAndPrivate TargetMode = "public+private"
	// TargetsLoopback (HTTP_STEP_TARGETS=loopback) reaches 127.0.0.1, ::1
	// and localhost only, and refuses every other host before any DNS
	// lookup: localhost is dialled as 127.0.0.1, never looked up. Tests run
	// in this mode, so that no test sends traffic, DNS included, anywhere
	// else.
	TargetsLoopback TargetMode = "loopback"
)

// OutboundPolicy is the engine's target policy. The zero value is the
// default (TargetsPublic).
type OutboundPolicy struct {
	Mode TargetMode
}

// PolicyFromEnv reads the policy from HTTP_STEP_TARGETS ("loopback" or
// unset) and ALLOW_PRIVATE_TARGETS ("1" or unset). Any other value is an
// error, so that a misspelt setting stops the function at start-up instead
// of running with a policy nobody chose. HTTP_STEP_TARGETS=loopback wins
// over ALLOW_PRIVATE_TARGETS: it is the narrower of the two.
func PolicyFromEnv() (OutboundPolicy, error) {
	targets, allowPrivate := os.Getenv("HTTP_STEP_TARGETS"), os.Getenv("ALLOW_PRIVATE_TARGETS")
	switch targets {
	case "", "loopback":
	default:
		return OutboundPolicy{}, fmt.Errorf(`HTTP_STEP_TARGETS must be "loopback" or unset, not %q`, targets)
	}
	switch allowPrivate {
	case "", "1":
	default:
		return OutboundPolicy{}, fmt.Errorf(`ALLOW_PRIVATE_TARGETS must be "1" or unset, not %q`, allowPrivate)
	}
	switch {
	case targets == "loopback":
		return OutboundPolicy{Mode: TargetsLoopback}, nil
	case allowPrivate == "1":
		return OutboundPolicy{Mode: TargetsPublicAndPrivate}, nil
	}
	return OutboundPolicy{Mode: TargetsPublic}, nil
}

// refusedError is a target the policy refuses. Its message names the host or
// address, never the URL (whose query may hold secrets).
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return e.reason }

// The ranges the classifier knows.
var (
	cgnat          = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork    = netip.MustParsePrefix("0.0.0.0/8")
	ietfProtocol   = netip.MustParsePrefix("192.0.0.0/24") // Oracle Cloud's metadata service is 192.0.0.192
	reservedV4     = netip.MustParsePrefix("240.0.0.0/4")  // 255.255.255.255 included
	ipv4Compatible = netip.MustParsePrefix("::/96")        // deprecated ::a.b.c.d
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	metadataV6     = netip.MustParseAddr("fd00:ec2::254") // AWS's IPv6 metadata service
	loopbackV4     = netip.MustParseAddr("127.0.0.1")
	loopbackV6     = netip.IPv6Loopback()
)

// allowsAddr reports whether the policy lets an http step dial ip (an
// address DNS answered, or a literal from the URL). IPv4 addresses written
// in IPv6 forms (::ffff:10.0.0.1, NAT64 64:ff9b::a00:1, 6to4 2002:a00:1::)
// are judged as the IPv4 address they carry.
func (p OutboundPolicy) allowsAddr(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.WithZone("")
	if p.Mode == TargetsLoopback {
		return ip == loopbackV4 || ip == loopbackV6
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is6() {
		switch {
		case ip == loopbackV6:
		case nat64.Contains(ip), nat64Local.Contains(ip):
			b := ip.As16()
			return p.allowsAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			b := ip.As16()
			return p.allowsAddr(netip.AddrFrom4([4]byte(b[2:6])))
		case ipv4Compatible.Contains(ip):
			return false // ::, ::1 aside (above and below), never a real target
		}
	}
	switch {
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), ip == metadataV6:
		return false
	case ip.Is4() && (cgnat.Contains(ip) || thisNetwork.Contains(ip) || ietfProtocol.Contains(ip) || reservedV4.Contains(ip)):
		return false
	case ip.IsLoopback(), ip.IsPrivate():
		return p.Mode == TargetsPublicAndPrivate
	}
	return true
}

// checkHost refuses, before any DNS lookup, a host the loopback mode does
// not allow. The other modes judge addresses when they are dialled.
func (p OutboundPolicy) checkHost(host string) error {
	if p.Mode != TargetsLoopback {
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && p.allowsAddr(ip) {
		return nil
	}
	return &refusedError{reason: fmt.Sprintf("the host %q is not allowed: http steps may reach only 127.0.0.1, ::1 and localhost here (HTTP_STEP_TARGETS=loopback)", host)}
}

// isLocalhostName reports whether host is localhost or a name under it
// (RFC 6761 section 6.3), with or without the root's trailing dot.
func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

type (
	lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)
	dialFunc   func(ctx context.Context, network, address string) (net.Conn, error)
)

// guardedDialer dials for the http client: it resolves the host itself,
// keeps the addresses the policy allows and dials those by address, so the
// address dialled is the address checked (a DNS answer that changes between
// a check and a dial cannot slip through). The net.Dialer's Control checks
// the address once more on the socket, whatever path led there.
type guardedDialer struct {
	policy OutboundPolicy
	lookup lookupFunc
	dial   dialFunc
}

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if err := d.policy.checkHost(host); err != nil {
		return nil, err
	}
	var candidates []netip.Addr
	switch ip, parseErr := netip.ParseAddr(host); {
	case parseErr == nil:
		candidates = []netip.Addr{ip}
	case isLocalhostName(host):
		// localhost and *.localhost are loopback by definition (RFC 6761):
		// 127.0.0.1, without asking DNS, which could answer anything. The
		// default mode then refuses it like any loopback address.
		candidates = []netip.Addr{loopbackV4}
	default:
		if candidates, err = d.lookup(ctx, host); err != nil {
			return nil, err
		}
	}
	var lastErr error
	refused := 0
	for _, ip := range candidates {
		if !d.policy.allowsAddr(ip) {
			refused++
			continue
		}
		conn, err := d.dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr == nil && refused > 0 {
		return nil, &refusedError{reason: fmt.Sprintf("the host %q resolves only to addresses http steps may not reach (loopback, private, link-local or metadata)", host)}
	}
	if lastErr == nil {
		return nil, fmt.Errorf("no address found for %q", host)
	}
	return nil, lastErr
}

func resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	return addrs, nil
}

// newClient is the http steps' client: the guarded dialer, no proxy, and
// redirects checked (checkRedirect).
func newClient(policy OutboundPolicy, lookup lookupFunc, dial dialFunc) *http.Client {
	if lookup == nil {
		lookup = resolve
	}
	if dial == nil {
		netDialer := &net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || !policy.allowsAddr(ap.Addr()) {
					return &refusedError{reason: "the address dialled is not one http steps may reach"}
				}
				return nil
			},
		}
		dial = netDialer.DialContext
	}
	d := &guardedDialer{policy: policy, lookup: lookup, dial: dial}
	transport := &http.Transport{
		Proxy:                  nil, // never HTTP(S)_PROXY: the proxy would dial, out of the policy's reach
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    10,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
	return &http.Client{Transport: transport, CheckRedirect: checkRedirect(policy)}
}

// errTooManyRedirects stops a chain of redirects past MaxRedirects.
var errTooManyRedirects = errors.New("too many redirects")

// checkRedirect follows at most MaxRedirects redirects, refuses (in the
// loopback mode, before DNS) a host the policy does not allow, and drops the
// connection's credentials from a request that leaves the step's own origin.
// Go's client keeps custom headers across hosts (a header connection's
// X-Api-Key) and keeps Authorization for subdomains, so the engine strips
// them itself: once the chain has left the origin, every later hop goes
// without them, even one that comes back (its path was chosen elsewhere).
func checkRedirect(policy OutboundPolicy) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > MaxRedirects {
			return errTooManyRedirects
		}
		if err := policy.checkHost(req.URL.Hostname()); err != nil {
			return err
		}
		origin := originOf(via[0])
		left := originOf(req) != origin
		for _, hop := range via[1:] {
			left = left || originOf(hop) != origin
		}
		if left {
			for _, name := range sensitiveHeaders(via[0]) {
				req.Header.Del(name)
			}
		}
		return nil
	}
}

// credentialHeaderKey carries, in the first request's context, the name of
// the header a connection set, so that checkRedirect knows what to strip.
type credentialHeaderKey struct{}

func sensitiveHeaders(first *http.Request) []string {
	names := []string{"Authorization", "Proxy-Authorization", "Cookie", "Cookie2"}
	if name, ok := first.Context().Value(credentialHeaderKey{}).(string); ok && name != "" {
		names = append(names, name)
	}
	return names
}

// originOf is the request's origin (urlOrigin): a connection's credentials
// go to this origin only.
func originOf(req *http.Request) string { return urlOrigin(req.URL) }
