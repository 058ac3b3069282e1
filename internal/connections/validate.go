package connections

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/workflowsapi/workflows/internal/domain"
)

// MaxNameLength bounds a connection's name, as a workflow's.
const MaxNameLength = 200

// MaxCredentialBytes bounds each credential string. Real tokens (JWTs, cloud
// keys) stay far below it; a request header of several kilobytes is refused by
// many servers anyway.
const MaxCredentialBytes = 4096

// MaxHeaderNameLength bounds the header name of a header connection.
const MaxHeaderNameLength = 256

// reservedHeaders are the headers a header connection may not set, because
// the runner or the HTTP client owns them: framing and routing (Host,
// Content-Length, Transfer-Encoding, Expect), the hop-by-hop headers of RFC
// 9110 section 7.6.1 (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Upgrade), the body's own description (Content-Type, Content-Encoding: the
// runner writes the step's body), and Idempotency-Key, which the runner sets
// to "<runId>:<stepId>" on every step request. Any Proxy-* header is refused
// too (see reservedHeader). Authorization is allowed: a scheme other than
// Bearer or Basic ("Authorization: Token abc") is what a header connection is
// for.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "expect": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true, "trailer": true, "upgrade": true,
	"content-type": true, "content-encoding": true,
	"idempotency-key": true,
}

func reservedHeader(name string) bool {
	lower := strings.ToLower(name)
	return reservedHeaders[lower] || strings.HasPrefix(lower, "proxy-")
}

// Request is a connection as a POST or PUT body gives it. Fields are
// pointers so that a missing one can be told from an empty one.
type Request struct {
	Name        *string
	Type        *string
	Credentials *CredentialsRequest
}

// CredentialsRequest holds every credential field of every type; the type
// says which must be given and which must not.
type CredentialsRequest struct {
	Token    *string
	Username *string
	Password *string
	Name     *string
	Value    *string
}

// Validate checks a request and returns the name to store and the
// credentials to seal, or a VALIDATION_ERROR naming every bad field
// (`name`, `type`, `credentials.token`, ...). No message repeats a
// credential.
func (req Request) Validate() (string, Credentials, error) {
	var problems []domain.FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, domain.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	rawName := ""
	if req.Name != nil {
		rawName = *req.Name
	}
	name, problem := domain.CheckName("name", rawName, MaxNameLength)
	if problem != nil {
		problems = append(problems, *problem)
	}
	var typ Type
	switch {
	case req.Type == nil:
		add("type", "is required; one of %s", typeList())
	case !known(Type(*req.Type)):
		add("type", "must be one of %s", typeList())
	default:
		typ = Type(*req.Type)
	}
	var creds Credentials
	switch {
	case req.Credentials == nil:
		add("credentials", "is required")
	case typ != "":
		creds = req.Credentials.check(typ, add)
	}
	if len(problems) > 0 {
		return "", Credentials{}, domain.Invalid(problems...)
	}
	return name, creds, nil
}

func known(t Type) bool {
	for _, k := range Types {
		if t == k {
			return true
		}
	}
	return false
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// credentialField is one field of CredentialsRequest with its rules.
type credentialField struct {
	name  string
	value *string
	// allowEmpty: "" is a value (a basic password may be empty: some APIs
	// take a key as the username and nothing else).
	allowEmpty bool
	// trimmed: the value goes on a header as is, where a receiver drops
	// surrounding space, so surrounding space would silently change it.
	trimmed bool
}

// check reads the credentials of type t, reporting through add.
func (c *CredentialsRequest) check(t Type, add func(field, format string, args ...any)) Credentials {
	all := map[string]*string{"token": c.Token, "username": c.Username, "password": c.Password, "name": c.Name, "value": c.Value}
	var fields []credentialField
	switch t {
	case TypeBearer:
		fields = []credentialField{{name: "token", value: c.Token, trimmed: true}}
	case TypeBasic:
		fields = []credentialField{{name: "username", value: c.Username}, {name: "password", value: c.Password, allowEmpty: true}}
	case TypeHeader:
		fields = []credentialField{{name: "name", value: c.Name}, {name: "value", value: c.Value, trimmed: true}}
	}
	own := map[string]bool{}
	for _, f := range fields {
		own[f.name] = true
	}
	for _, name := range []string{"token", "username", "password", "name", "value"} {
		if all[name] != nil && !own[name] {
			add("credentials."+name, "is not a field of a %s connection", t)
		}
	}
	valid := map[string]bool{}
	for _, f := range fields {
		field := "credentials." + f.name
		switch v := f.value; {
		case v == nil:
			add(field, "is required for a %s connection", t)
		case *v == "" && !f.allowEmpty:
			add(field, "must not be empty")
		case len(*v) > MaxCredentialBytes:
			add(field, "must be at most %d bytes", MaxCredentialBytes)
		case strings.ContainsFunc(*v, unicode.IsControl):
			// CR, LF or NUL would split or cut the header the value goes
			// on; no credential needs any control character.
			add(field, "must not contain control characters")
		case f.trimmed && strings.TrimSpace(*v) != *v:
			add(field, "must not begin or end with whitespace")
		default:
			valid[f.name] = true
		}
	}
	creds := Credentials{Type: t}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch t {
	case TypeBearer:
		creds.Token = deref(c.Token)
	case TypeBasic:
		creds.Username, creds.Password = deref(c.Username), deref(c.Password)
		if valid["username"] && strings.Contains(creds.Username, ":") {
			// RFC 7617: the first colon ends the user-id.
			add("credentials.username", "must not contain a colon")
		}
	case TypeHeader:
		creds.Name, creds.Value = deref(c.Name), deref(c.Value)
		if valid["name"] {
			switch {
			case len(creds.Name) > MaxHeaderNameLength:
				add("credentials.name", "must be at most %d characters", MaxHeaderNameLength)
			case !isToken(creds.Name):
				add("credentials.name", "must be an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~)")
			case reservedHeader(creds.Name):
				add("credentials.name", "must not be %s: the runner sets it itself", creds.Name)
			}
		}
	}
	return creds
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
