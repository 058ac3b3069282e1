package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/inputschema"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"

	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	// Lambda's OS-only runtime (provided.al2023) has no zoneinfo files, so
	// time.LoadLocation("Europe/Berlin") would fail there without the copy
	// embedded in the binary (about 450 KB).
	_ "time/tzdata"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/workflowsapi/workflows/internal/domain"
)

// Validate holds d to every rule of a definition and returns nil or a
// VALIDATION_ERROR naming every problem with its field's path. It trims the
// name and makes an absent enabled true. It does not measure d's size:
// Parse does, on the body as sent. exists is asked once per distinct
// well-formed connection id.
func Validate(d *workflows.Definition, exists workflows.ConnectionExists) error {
	p := newProblems()
	if err := validate(d, p, exists); err != nil {
		return err
	}
	return p.err()
}

func validate(d *workflows.Definition, p *problems, exists workflows.ConnectionExists) error {
	if name, problem := domain.CheckName("name", d.Name, workflows.MaxNameLength); problem != nil {
		p.add(problem.Field, problem.Message)
	} else {
		d.Name = name
	}
	if utf8.RuneCountInString(d.Description) > workflows.MaxDescriptionLength {
		p.add("description", fmt.Sprintf("must be at most %d characters", workflows.MaxDescriptionLength))
	}
	if d.Enabled == nil {
		enabled := true
		d.Enabled = &enabled
	}
	if d.TimeoutSeconds != nil {
		checkRange(p, "timeoutSeconds", *d.TimeoutSeconds, 1, workflows.MaxWorkflowTimeoutSeconds)
	}
	if c := d.Concurrency; c != nil {
		checkRange(p, "concurrency.limit", c.Limit, 1, workflows.MaxConcurrencyLimit)
		if c.Key != "" {
			checkJQ(p, "concurrency.key", c.Key)
		}
	}
	if d.Notify != nil {
		validateNotify(p, d.Notify)
	}
	validateTrigger(p, d.Trigger)
	if d.InputSchema != nil {
		for _, problem := range inputschema.Problems(d.InputSchema) {
			p.add(problem.Field, problem.Message)
		}
	}
	refs := validateSteps(p, d.Steps)
	return checkConnections(p, refs, exists)
}

func checkRange(p *problems, field string, n, lowest, highest int) {
	if n < lowest || n > highest {
		p.add(field, fmt.Sprintf("must be an integer from %d to %d", lowest, highest))
	}
}

// isStepID reports whether id has the contract's form for a step id,
// ^[a-zA-Z][a-zA-Z0-9_-]{0,63}$: an id names a step's output in jq
// (.steps.fetch, or .steps["fetch-2"]) and in logs, so it stays short and
// plain. It is written out rather than a regexp.MustCompile at package
// level, whose {0,63} compiled 63 copies of the class at every start of the
// functions that validate a definition (0.4 ms and 860 allocations of their
// init, GODEBUG=inittrace=1; docs/performance.md); TestIsStepIDIsThePattern
// holds it to the pattern.
func isStepID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '_' || c == '-')) {
			return false
		}
	}
	return true
}

// connectionRef is a step's connection, looked up after every other check.
type connectionRef struct{ field, id string }

func validateSteps(p *problems, steps []workflows.Step) []connectionRef {
	switch {
	case steps == nil:
		p.add("steps", "is required")
		return nil
	case len(steps) == 0:
		p.add("steps", "must have at least one step")
		return nil
	case len(steps) > workflows.MaxSteps:
		p.addAbove("steps", fmt.Sprintf("must have at most %d steps", workflows.MaxSteps))
	}
	c := &stepChecker{p: p, index: make(map[string]int, len(steps)), innerIDs: map[string]innerPlace{}}
	for i, s := range steps {
		field := "steps[" + strconv.Itoa(i) + "].id"
		if !checkStepID(p, field, s.ID) {
			continue
		}
		if j, taken := c.index[s.ID]; taken {
			p.add(field, fmt.Sprintf("is already the id of steps[%d]", j))
		} else {
			c.index[s.ID] = i
		}
	}
	var refs []connectionRef
	for i := range steps {
		refs = append(refs, c.validateStep("steps["+strconv.Itoa(i)+"]", i, &steps[i])...)
	}
	for _, j := range c.jumps {
		c.checkElse(j)
	}
	return refs
}

// stepChecker is what the checks of a workflow's steps share: the
// problems, where each step id is, and the else targets, which are checked
// once every id is known.
type stepChecker struct {
	p *problems
	// index maps each top-level step id to its position.
	index map[string]int
	// innerIDs maps each id of a parallel's inner step to where it is:
	// those share the workflow's ids, but no else may name them.
	innerIDs map[string]innerPlace
	// jumps are the conditions' else targets. They are checked after every
	// step, as an else may name an inner step of a later parallel, whose id
	// is only known once that parallel is checked.
	jumps []jump
}

// innerPlace is where an inner step of a parallel is: its path
// (steps[1].with.steps[0]) and its parallel's id.
type innerPlace struct{ path, parallel string }

// jump is a condition's else: the field, the condition's position and the
// step it names.
type jump struct {
	field  string
	from   int
	target string
}

// checkStepID holds a step id to its form and reports whether it passed.
func checkStepID(p *problems, field, id string) bool {
	switch {
	case id == "":
		p.add(field, "is required")
	case !isStepID(id):
		p.add(field, "must start with a letter and hold only letters, digits, _ and -, at most 64 characters")
	case id == workflows.End:
		p.add(field, `is reserved: "end" is the else target that ends a run`)
	default:
		return true
	}
	return false
}

// validateStep checks one step, top-level or inside a fan-out: the rules of
// its type, then those of every step. Its type's come first because a type
// may refuse a member as a whole (a parallel's retry), which then keeps the
// checks of what is inside it (retry.maxAttempts) from being told as well.
func (c *stepChecker) validateStep(path string, i int, s *workflows.Step) []connectionRef {
	p := c.p
	var refs []connectionRef
	switch kind, known := kindOf(s.Type); {
	case known:
		refs = kind.validate(c, path, i, s)
		onlyFor(p, path+".with", s.Type, &s.With, kind.withMembers())
	case s.Type == "":
		p.add(path+".type", "is required")
	default:
		p.add(path+".type", "must be "+alternatives(StepTypes()))
	}
	if s.Retry != nil {
		checkRange(p, path+".retry.maxAttempts", s.Retry.MaxAttempts, 1, workflows.MaxAttempts)
	}
	if s.TimeoutSeconds != nil {
		checkRange(p, path+".timeoutSeconds", *s.TimeoutSeconds, 1, workflows.MaxStepTimeoutSeconds)
	}
	switch s.OnError {
	case "", workflows.OnErrorFail, workflows.OnErrorContinue:
	default:
		p.add(path+".onError", `must be "fail" or "continue"`)
	}
	// By the one type that has it, not a list of the others: a type added
	// later cannot escape the rule.
	if s.Else != "" && s.Type != workflows.StepCondition && s.Type != "" {
		p.add(path+".else", "is only for condition steps")
	}
	return refs
}

// onlyFor refuses the members of w that a step of stepType does not use.
// It sees values, so it cannot tell a member given empty ("jq": "") from
// one left out; Parse, which sees the members as given, refuses those too
// (refuseForeignMembers).
func onlyFor(p *problems, path string, stepType workflows.StepType, w *workflows.With, uses []string) {
	given := []struct {
		name string
		set  bool
	}{
		{"method", w.Method != ""}, {"url", w.URL != ""}, {"headers", w.Headers != nil},
		{"body", w.Body != nil}, {"connection", w.Connection != ""}, {"jq", w.JQ != ""},
		{"seconds", w.Seconds != 0}, {"items", w.Items != ""}, {"concurrency", w.Concurrency != 0},
		{"step", w.Step != nil}, {"steps", w.Steps != nil},
		{"workflowId", w.WorkflowID != ""}, {"input", w.Input != ""}, {"version", w.Version != 0},
	}
	for _, g := range given {
		if g.set && !slices.Contains(uses, g.name) {
			p.add(path+"."+g.name, "is not a field of "+string(stepType)+" steps")
		}
	}
}

// checkElse holds a condition's else to a later top-level step or End.
func (c *stepChecker) checkElse(j jump) {
	at, found := c.index[j.target]
	inner, isInner := c.innerIDs[j.target]
	switch {
	case j.target == "":
		c.p.add(j.field, `is required: the id of a later step, or "end"`)
	case j.target == workflows.End:
	case found && at <= j.from:
		c.p.add(j.field, fmt.Sprintf(`must name a later step (or "end"): %s is steps[%d], and a workflow does not loop`, j.target, at))
	case found:
	case isInner:
		// The runner moves from step to step of the workflow; an inner step
		// runs only as a part of its parallel.
		c.p.add(j.field, fmt.Sprintf(`names a step inside the parallel %s; else may name only a top-level step (or "end")`, inner.parallel))
	default:
		c.p.add(j.field, `is not the id of a step of this workflow (nor "end")`)
	}
}

func checkJQ(p *problems, field, src string) {
	if strings.TrimSpace(src) == "" {
		p.add(field, "is required")
		return
	}
	if _, err := jqtemplate.CompileJQ(src); err != nil {
		p.add(field, "does not compile: "+err.Error())
	}
}

func validateTrigger(p *problems, t workflows.Trigger) {
	switch t.Type {
	case workflows.TriggerManual, workflows.TriggerWebhook:
		for _, f := range []struct{ name, value string }{{"cron", t.Cron}, {"timezone", t.Timezone}, {"every", t.Every}} {
			if f.value != "" {
				p.add("trigger."+f.name, "is only for schedule triggers")
			}
		}
	case workflows.TriggerSchedule:
		switch {
		case t.Cron != "" && t.Every != "":
			p.add("trigger.every", "cannot be given with cron: a schedule has one or the other")
		case t.Cron != "":
			if _, problem := parseCron(t.Cron); problem != "" {
				p.add("trigger.cron", problem)
			}
			if _, problem := loadTimezone(t.Timezone); problem != "" {
				p.add("trigger.timezone", problem)
			}
		case t.Every != "":
			if t.Timezone != "" {
				p.add("trigger.timezone", "is only for cron schedules: every runs at a fixed interval")
			}
			if _, problem := parseEvery(t.Every); problem != "" {
				p.add("trigger.every", problem)
			}
		default:
			p.add("trigger.cron", `is required, or every: a schedule needs {"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"} or {"every": "15m"}`)
		}
	case "":
		if t == (workflows.Trigger{}) {
			p.add("trigger", `is required: {"type": "manual"}, "webhook" or "schedule"`)
		} else {
			p.add("trigger.type", "is required")
		}
	default:
		p.add("trigger.type", "must be manual, webhook or schedule")
	}
}

// cronParser reads the usual five fields: no seconds field (nothing fires
// more than once a minute) and no descriptors (@every 5s).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// starBit is the bit robfig/cron sets on a field written * or ? (spec.go):
// unset, the field is restricted, and a schedule restricting both
// day-of-month and day-of-week fires when either matches, which EventBridge
// Scheduler has no way to say (one of the two must be ?).
const starBit = 1 << 63

// parseCron reads a five-field cron expression, or says what is wrong.
func parseCron(spec string) (*cron.SpecSchedule, string) {
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, "must have five fields: minute hour day-of-month month day-of-week"
	}
	// Checked before the library sees it: robfig/cron reads a "TZ=" or
	// "CRON_TZ=" prefix itself (and panics on one without a space after
	// it); the time zone is the timezone field's alone.
	for _, f := range fields {
		if strings.ContainsFunc(f, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || strings.ContainsRune("*?,-/", r))
		}) {
			return nil, "may hold only numbers, names (JAN, MON), *, ?, and the , - / operators"
		}
	}
	schedule, err := cronParser.Parse(strings.Join(fields, " "))
	if err != nil {
		return nil, "is not a valid cron expression: " + err.Error()
	}
	spec5 := schedule.(*cron.SpecSchedule)
	if spec5.Dom&starBit == 0 && spec5.Dow&starBit == 0 {
		return nil, "restricts both day-of-month and day-of-week, which EventBridge Scheduler cannot run: set one of them to *"
	}
	if !firesOnSomeDay(spec5) {
		return nil, "never fires: no month it names has such a day"
	}
	return spec5, ""
}

// firesOnSomeDay reports whether some month of s has a day of s (February
// counted with its 29th). A day-of-week schedule always has one.
func firesOnSomeDay(s *cron.SpecSchedule) bool {
	days := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for month := 1; month <= 12; month++ {
		if s.Month&(1<<month) == 0 {
			continue
		}
		for day := 1; day <= days[month]; day++ {
			if s.Dom&(1<<day) != 0 {
				return true
			}
		}
	}
	return false
}

// loadTimezone loads an IANA zone. "" and "Local" also load (as UTC and
// the machine's zone), and neither is a zone EventBridge Scheduler knows.
func loadTimezone(name string) (*time.Location, string) {
	if name == "" {
		return nil, "is required with cron: an IANA time zone such as Europe/Berlin or UTC"
	}
	location, err := time.LoadLocation(name)
	if name == "Local" || err != nil {
		return nil, "is not an IANA time zone name (such as Europe/Berlin or UTC)"
	}
	return location, ""
}

// maxEvery keeps a rate within what a schedule is for (and what
// EventBridge Scheduler's rate expression is sure to take).
const maxEvery = 365 * 24 * time.Hour

// parseEvery reads an interval such as "15m" or "1h": a Go duration of
// whole minutes, from 1m to 8760h (365 days).
func parseEvery(every string) (time.Duration, string) {
	d, err := time.ParseDuration(every)
	switch {
	case err != nil:
		return 0, `must be a duration such as "15m", "1h" or "24h"`
	case d < time.Minute:
		return 0, "must be at least 1m: a schedule fires at most once a minute"
	case d%time.Minute != 0:
		return 0, "must be a whole number of minutes"
	case d > maxEvery:
		return 0, "must be at most 8760h (365 days)"
	}
	return d, ""
}

// SchedulerExpression is a schedule trigger as EventBridge Scheduler takes
// it: "cron(0 9 ? * MON-FRI *)" with the trigger's timezone, or
// "rate(15 minutes)" with none. The cron is written out from the parsed
// fields (ranges and lists of numbers, day names for day-of-week), so the
// meaning of standard cron (Sunday is 0, as 7 is not accepted) carries over
// to EventBridge's (Sunday is 1) without translating its syntax. It is an
// error for a trigger that is not a valid schedule.
func SchedulerExpression(t workflows.Trigger) (expression, timezone string, err error) {
	if t.Type != workflows.TriggerSchedule {
		return "", "", errors.New("not a schedule trigger")
	}
	if t.Every != "" {
		d, problem := parseEvery(t.Every)
		if problem != "" {
			return "", "", errors.New("every " + problem)
		}
		return rate(int(d / time.Minute)), "", nil
	}
	s, problem := parseCron(t.Cron)
	if problem != "" {
		return "", "", errors.New("cron " + problem)
	}
	if _, problem := loadTimezone(t.Timezone); problem != "" {
		return "", "", errors.New("timezone " + problem)
	}
	dom, dow := "?", "?"
	if s.Dow&starBit == 0 {
		dow = cronList(s.Dow, 0, 6, []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"})
	} else {
		dom = cronList(s.Dom, 1, 31, nil)
	}
	fields := []string{cronList(s.Minute, 0, 59, nil), cronList(s.Hour, 0, 23, nil), dom, cronList(s.Month, 1, 12, nil), dow, "*"}
	return "cron(" + strings.Join(fields, " ") + ")", t.Timezone, nil
}

func rate(minutes int) string {
	n, unit := minutes, "minute"
	switch {
	case minutes%(24*60) == 0:
		n, unit = minutes/(24*60), "day"
	case minutes%60 == 0:
		n, unit = minutes/60, "hour"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("rate(%d %s)", n, unit)
}

// cronList writes the set bits of a field from lowest to highest as "*"
// when all are set, else as ranges and values: "0,15,30,45", "9-17",
// "MON-FRI".
func cronList(bits uint64, lowest, highest int, names []string) string {
	if bits&starBit != 0 {
		return "*"
	}
	name := func(v int) string {
		if names != nil {
			return names[v]
		}
		return strconv.Itoa(v)
	}
	var parts []string
	for v := lowest; v <= highest; v++ {
		if bits&(1<<v) == 0 {
			continue
		}
		end := v
		for end+1 <= highest && bits&(1<<(end+1)) != 0 {
			end++
		}
		switch {
		case end == v:
			parts = append(parts, name(v))
		case end == v+1:
			parts = append(parts, name(v), name(end))
		default:
			parts = append(parts, name(v)+"-"+name(end))
		}
		v = end
	}
	return strings.Join(parts, ",")
}

// checkConnections asks exists once per distinct id, in the order the steps
// name them.
func checkConnections(p *problems, refs []connectionRef, exists workflows.ConnectionExists) error {
	found := map[string]bool{}
	for _, ref := range refs {
		ok, asked := found[ref.id]
		if !asked {
			if exists != nil {
				var err error
				if ok, err = exists(ref.id); err != nil {
					return err
				}
			}
			found[ref.id] = ok
		}
		if !ok {
			p.add(ref.field, "is not a connection of this account")
		}
	}
	return nil
}

// validateNotify holds a notify to an https URL (or http to a loopback
// host, for a receiver on the developer's own machine, which the outbound
// policy reaches only in its loopback mode) with no templates, and to a
// list of known events, each once.
func validateNotify(p *problems, n *workflows.Notify) {
	checkNotifyURL(p, "notify.url", n.URL)
	if len(n.Events) == 0 {
		p.add("notify.events", "must list at least one event: "+joinEvents(workflows.NotifyEvents))
	}
	seen := map[workflows.NotifyEvent]bool{}
	for i, e := range n.Events {
		field := fmt.Sprintf("notify.events[%d]", i)
		switch {
		case !slices.Contains(workflows.NotifyEvents, e):
			p.add(field, "must be one of "+joinEvents(workflows.NotifyEvents))
		case seen[e]:
			p.add(field, "is listed twice")
		}
		seen[e] = true
	}
}

func joinEvents(events []workflows.NotifyEvent) string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = string(e)
	}
	return strings.Join(names, ", ")
}

// MaxNotifyURLLength bounds a notify URL as browsers and proxies do.
const MaxNotifyURLLength = 2048

func checkNotifyURL(p *problems, field, raw string) {
	if raw == "" {
		p.add(field, "is required")
		return
	}
	if len(raw) > MaxNotifyURLLength {
		p.add(field, fmt.Sprintf("must be at most %d bytes", MaxNotifyURLLength))
		return
	}
	if strings.Contains(raw, "{{") {
		p.add(field, "must be a plain URL: templates are for http steps")
		return
	}
	u, err := url.Parse(raw)
	var urlErr *url.Error
	switch {
	case errors.As(err, &urlErr):
		p.add(field, "is not a valid URL: "+urlErr.Err.Error())
	case err != nil:
		p.add(field, "is not a valid URL")
	case u.Hostname() == "":
		p.add(field, "must be an absolute https URL with a host")
	case u.User != nil:
		p.add(field, "must not hold a user name or password: the signature is how a receiver knows the sender")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		p.add(field, "must be an https URL (http only to localhost, 127.0.0.1 or ::1)")
	}
}

// isLoopbackHost reports whether host names this machine: localhost, or a
// loopback address literal. Nothing is resolved.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
