package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"

	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsonbody"
	"github.com/workflowsapi/workflows/internal/jsonfield"
)

// Parse reads a definition from a request body and validates it, as
// Validate does: the result is nil or a VALIDATION_ERROR listing every
// problem found, each with the path of its field (steps[2].with.jq). The
// decoding is as strict as the rest of the API's (httpapi.DecodeJSON):
// names match exactly, and a name given twice, an unknown name, a member
// given as null (except inside a step's body and the input schema, which
// are any JSON) and a value of the wrong type are refused. Unlike a single
// json.Unmarshal, which stops at the first of these, Parse reads the body
// member by member so that one answer names them all. The body is read by
// jsonbody's rules, as every route's is: no body at all reads as {}, one of
// only whitespace is refused, and an integer (a timeout, a retry count, a
// delay, a limit, a version) may be written 60.0 or 6e1. Any error that is
// not a *domain.Error comes from exists.
func Parse(body []byte, exists workflows.ConnectionExists) (workflows.Definition, error) {
	if len(body) > workflows.MaxDefinitionBytes {
		// Checked first, so an oversized body costs no decoding. The
		// pipeline answers 413 before this for a request; this is for every
		// other caller.
		return workflows.Definition{}, domain.Invalid(domain.FieldError{Field: "body", Message: fmt.Sprintf("must be at most %d bytes (256 KiB)", workflows.MaxDefinitionBytes)})
	}
	body, err := jsonbody.Text(body)
	if err != nil {
		return workflows.Definition{}, err
	}
	p := newProblems()
	var root jsontext.Value
	// One pass over the whole body finds malformed JSON, invalid UTF-8 and
	// names given twice anywhere (inside a body or schema too), so that
	// every value read below is known to be well formed.
	if err := json.Unmarshal(body, &root); err != nil {
		p.addJSON("", err)
		return workflows.Definition{}, p.err()
	}
	if root.Kind() != '{' {
		p.add("body", "must be a JSON object")
		return workflows.Definition{}, p.err()
	}
	d := decodeDefinition(p, root)
	if err := validate(&d, p, exists); err != nil {
		return workflows.Definition{}, err
	}
	if err := p.err(); err != nil {
		return workflows.Definition{}, err
	}
	return d, nil
}

func decodeDefinition(p *problems, root jsontext.Value) workflows.Definition {
	var d workflows.Definition
	for _, m := range p.members("", root) {
		switch m.name {
		case "name":
			p.decode(m.field, m.value, &d.Name)
		case "description":
			p.decode(m.field, m.value, &d.Description)
		case "enabled":
			p.decode(m.field, m.value, &d.Enabled)
		case "trigger":
			d.Trigger = decodeTrigger(p, m.field, m.value)
		case "inputSchema":
			d.InputSchema = compact(m.value)
		case "timeoutSeconds":
			p.decode(m.field, m.value, &d.TimeoutSeconds)
		case "concurrency":
			d.Concurrency = decodeConcurrency(p, m.field, m.value)
		case "notify":
			d.Notify = decodeNotify(p, m.field, m.value)
		case "steps":
			d.Steps = decodeSteps(p, m.field, m.value, false)
		default:
			p.unknown(m.field)
		}
	}
	return d
}

// decodeConcurrency reads a concurrency limit; Validate checks its values.
func decodeConcurrency(p *problems, path string, raw jsontext.Value) *workflows.Concurrency {
	c := &workflows.Concurrency{}
	members := p.members(path, raw)
	given := map[string]bool{}
	for _, m := range members {
		given[m.name] = true
		switch m.name {
		case "limit":
			p.decode(m.field, m.value, &c.Limit)
		case "key":
			p.decode(m.field, m.value, &c.Key)
			if string(m.value) == `""` {
				p.add(m.field, "must not be empty; leave it out for one limit over all the workflow's runs")
			}
		default:
			p.unknown(m.field)
		}
	}
	if !given["limit"] && raw.Kind() == '{' {
		// Validate's range check of the limit adds nothing to a field
		// that has a problem already.
		p.add(path+".limit", "is required: how many runs may be running at once, 1 to 1000")
	}
	return c
}

// decodeNotify reads a workflow's notify; Validate checks its values.
func decodeNotify(p *problems, path string, raw jsontext.Value) *workflows.Notify {
	n := &workflows.Notify{}
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "url":
			p.decode(m.field, m.value, &n.URL)
		case "events":
			p.decode(m.field, m.value, &n.Events)
		default:
			p.unknown(m.field)
		}
	}
	return n
}

// decodeSteps reads a list of steps: the workflow's, or a parallel's
// (inner).
func decodeSteps(p *problems, path string, raw jsontext.Value, inner bool) []workflows.Step {
	var list []jsontext.Value
	if !p.decode(path, raw, &list) {
		return nil
	}
	// An empty list stays non-nil: it was given, and Validate says why it
	// is not enough.
	steps := make([]workflows.Step, len(list))
	for i, s := range list {
		steps[i] = decodeStep(p, path+"["+strconv.Itoa(i)+"]", s, inner)
	}
	return steps
}

func decodeTrigger(p *problems, path string, raw jsontext.Value) workflows.Trigger {
	var t workflows.Trigger
	var given []member
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "type":
			p.decode(m.field, m.value, &t.Type)
		case "cron":
			p.decode(m.field, m.value, &t.Cron)
			given = append(given, m)
		case "timezone":
			p.decode(m.field, m.value, &t.Timezone)
			given = append(given, m)
		case "every":
			p.decode(m.field, m.value, &t.Every)
			given = append(given, m)
		default:
			p.unknown(m.field)
		}
	}
	// Validate sees values, so a member given empty ("cron": "") would pass
	// for absent there; here it is refused as given.
	for _, m := range given {
		switch {
		case t.Type != workflows.TriggerSchedule && t.Type != "":
			p.add(m.field, "is only for schedule triggers")
		case string(m.value) == `""`:
			p.add(m.field, "must not be empty")
		}
	}
	return t
}

// decodeStep reads one step; inner says it is held by a foreach or a
// parallel.
func decodeStep(p *problems, path string, raw jsontext.Value, inner bool) workflows.Step {
	var s workflows.Step
	var withGiven []member
	elseGiven := false
	defer func() {
		refuseForeignMembers(p, path, s.Type, withGiven, elseGiven)
		refuseZeroConcurrency(p, withGiven, s.With)
		refuseEmptyWorkflowMembers(p, s.Type, withGiven, s.With)
	}()
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "id":
			p.decode(m.field, m.value, &s.ID)
		case "type":
			p.decode(m.field, m.value, &s.Type)
		case "with":
			s.With = decodeWith(p, m.field, m.value, inner)
			withGiven = p.members(m.field, m.value)
		case "else":
			elseGiven = true
			p.decode(m.field, m.value, &s.Else)
		case "retry":
			s.Retry = &workflows.Retry{} // without maxAttempts, Validate says it is required
			for _, r := range p.members(m.field, m.value) {
				if r.name != "maxAttempts" {
					p.unknown(r.field)
					continue
				}
				p.decode(r.field, r.value, &s.Retry.MaxAttempts)
			}
		case "timeoutSeconds":
			p.decode(m.field, m.value, &s.TimeoutSeconds)
		case "onError":
			// Given empty, it would pass Validate for absent: refused here.
			if p.decode(m.field, m.value, &s.OnError) && s.OnError == "" {
				p.add(m.field, `must be "fail" or "continue"`)
			}
		default:
			p.unknown(m.field)
		}
	}
	return s
}

// refuseForeignMembers refuses, by name as given, the members of a step's
// `with` that its type does not use and an `else` on a step that is not a
// condition, even when given empty ("jq": "", "seconds": 0, "else": ""),
// which Validate, seeing only values, would take for absent.
func refuseForeignMembers(p *problems, path string, stepType workflows.StepType, withGiven []member, elseGiven bool) {
	kind, known := kindOf(stepType)
	if !known {
		return // an unknown or missing type is reported on its own
	}
	uses := kind.withMembers()
	for _, m := range withGiven {
		if !slices.Contains(uses, m.name) {
			p.add(m.field, "is not a field of "+string(stepType)+" steps")
		}
	}
	if elseGiven && stepType != workflows.StepCondition {
		p.add(path+".else", "is only for condition steps")
	}
}

// decodeWith reads every member any step type knows; Validate then refuses
// the ones the step's own type does not use, with a message that says so.
// The with of an inner step (inner) is read without its step and steps,
// which are refused all the same (as foreign by refuseForeignMembers, or
// with the type of a fan-out inside a fan-out): reading them would let a
// body nest steps thousands deep, each level read again by the level
// above.
func decodeWith(p *problems, path string, raw jsontext.Value, inner bool) workflows.With {
	var w workflows.With
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "method":
			p.decode(m.field, m.value, &w.Method)
		case "url":
			p.decode(m.field, m.value, &w.URL)
		case "headers":
			p.decode(m.field, m.value, &w.Headers)
		case "body":
			w.Body = compact(m.value)
		case "connection":
			p.decode(m.field, m.value, &w.Connection)
		case "jq":
			p.decode(m.field, m.value, &w.JQ)
		case "seconds":
			p.decode(m.field, m.value, &w.Seconds)
		case "items":
			p.decode(m.field, m.value, &w.Items)
		case "concurrency":
			p.decode(m.field, m.value, &w.Concurrency)
		case "step":
			if !inner {
				refuseForeachStepMembers(p, m.field, m.value)
				step := decodeStep(p, m.field, m.value, true)
				w.Step = &step
			}
		case "steps":
			if !inner {
				w.Steps = decodeSteps(p, m.field, m.value, true)
			}
		case "workflowId":
			p.decode(m.field, m.value, &w.WorkflowID)
		case "input":
			p.decode(m.field, m.value, &w.Input)
		case "version":
			p.decode(m.field, m.value, &w.Version)
		case "timeoutSeconds":
			p.decode(m.field, m.value, &w.TimeoutSeconds)
		default:
			p.unknown(m.field)
		}
	}
	return w
}

// compact writes a value kept as JSON the way marshalling a Definition
// writes it (no space, strings escaped minimally, numbers as written), so
// that a definition parsed and one read back from storage are equal.
func compact(v jsontext.Value) jsontext.Value {
	out, err := json.Marshal(v)
	if err != nil {
		return v // not reached: v is well formed, Parse has read the whole body
	}
	return out
}

// maxProblems bounds an answer: a real definition (100 steps, a few
// problems each) stays under it, while 256 KiB of made-up member names does
// not make a response of tens of thousands of details.
const maxProblems = 1000

// problems collects the details of a VALIDATION_ERROR in the order they are
// found (document order), one per field: once a field has a problem, no
// other is reported for it or for anything inside it, so a value that could
// not be read is not also reported as missing, nor its members as invalid.
type problems struct {
	list []domain.FieldError
	at   map[string]bool
}

func newProblems() *problems { return &problems{at: map[string]bool{}} }

func (p *problems) add(field, message string) {
	if p.blocked(field) || len(p.list) >= maxProblems {
		return
	}
	p.at[field] = true
	p.list = append(p.list, domain.FieldError{Field: field, Message: message})
}

// blocked reports whether field, or a value holding it, has a problem.
func (p *problems) blocked(field string) bool {
	for f := field; f != ""; {
		if p.at[f] {
			return true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			return false
		}
		f = f[:i]
	}
	return false
}

// err is the VALIDATION_ERROR, its details in the order of their paths
// (steps[2] before steps[10]), so that each step's problems come together
// and in the order of the steps, whichever check found them.
// addAbove reports a problem of a list as a whole (too many steps) that
// does not stop its items from being checked: each step's own problems are
// still worth telling.
func (p *problems) addAbove(field, message string) {
	if p.blocked(field) || len(p.list) >= maxProblems {
		return
	}
	p.list = append(p.list, domain.FieldError{Field: field, Message: message})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b domain.FieldError) int { return comparePaths(a.Field, b.Field) })
	return domain.Invalid(p.list...)
}

// comparePaths orders field paths part by part, indexes by number.
func comparePaths(a, b string) int {
	as, bs := pathParts(a), pathParts(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aErr := strconv.Atoi(as[i])
		bn, bErr := strconv.Atoi(bs[i])
		if c := cmp.Compare(an, bn); aErr == nil && bErr == nil && c != 0 {
			return c
		}
		if c := strings.Compare(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

func pathParts(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}

func (p *problems) unknown(field string) { p.add(field, "is not a known field") }

type member struct {
	name, field string
	value       jsontext.Value
}

// members returns the members of raw, a well-formed value that must be an
// object, in document order; members given as null are reported, not
// returned. A decoder that read the object into a struct would stop at the
// first problem; reading it member by member lets the caller report them
// all.
func (p *problems) members(path string, raw jsontext.Value) []member {
	if raw.Kind() != '{' {
		field := path
		if field == "" {
			field = "body"
			p.add(field, "must be a JSON object")
		} else {
			p.add(field, "must be an object")
		}
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.ReadToken(); err != nil { // '{'
		p.add(jsonfield.OrBody(path), "is not valid JSON")
		return nil
	}
	var out []member
	for dec.PeekKind() != '}' {
		token, err := dec.ReadToken()
		if err != nil {
			p.add(jsonfield.OrBody(path), "is not valid JSON")
			return out
		}
		name := token.String() // before the next read voids the token
		value, err := dec.ReadValue()
		if err != nil {
			p.add(jsonfield.OrBody(path), "is not valid JSON")
			return out
		}
		field := jsonfield.Join(path, name)
		if value.Kind() == 'n' {
			// As httpapi.DecodeJSON: null reads as absent, but a caller who
			// sends null may mean something else, and the API does not guess.
			p.add(field, "must not be null; leave the field out instead")
			continue
		}
		out = append(out, member{name: name, field: field, value: value.Clone()})
	}
	return out
}

// decode reads one value strictly into dst, reporting any problem at field;
// it reports whether the value was read. Every integer of a definition is
// read here, so jsonbody.Integers lets each take 60.0 as 60.
func (p *problems) decode(field string, raw jsontext.Value, dst any) bool {
	if err := json.Unmarshal(raw, dst, json.RejectUnknownMembers(true), jsonbody.Integers()); err != nil {
		p.addJSON(field, err)
		return false
	}
	return true
}

// addJSON turns a decoding error into a detail at the path of the value it
// is about, below prefix, in the same notation as httpapi's (jsonfield).
func (p *problems) addJSON(prefix string, err error) {
	var syntactic *jsontext.SyntacticError
	var semantic *json.SemanticError
	switch {
	case errors.As(err, &syntactic) && errors.Is(syntactic.Err, jsontext.ErrDuplicateName):
		p.add(jsonfield.OrBody(jsonfield.Pointer(prefix, syntactic.JSONPointer)), "appears more than once")
	case errors.As(err, &syntactic):
		p.add(jsonfield.OrBody(prefix), fmt.Sprintf("is not valid JSON (at byte %d)", syntactic.ByteOffset))
	case errors.As(err, &semantic) && semantic.GoType != nil:
		field := jsonfield.Pointer(prefix, semantic.JSONPointer)
		if field == "" {
			p.add("body", "must be a JSON object")
			return
		}
		p.add(field, "must be "+jsonfield.TypeName(semantic.GoType))
	default:
		p.add(jsonfield.OrBody(prefix), "is not valid")
	}
}
