package local

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Timing says when a schedule fires: Next is its first due time strictly
// after t.
type Timing interface {
	Next(t time.Time) time.Time
}

// cronFields reads the first five fields of Scheduler's six (minute hour
// day-of-month month day-of-week), "?" included; the year is Scheduler's
// own and must be *.
var cronFields = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// maxRateMinutes is the longest rate a workflow may have (365 days).
const maxRateMinutes = 365 * 24 * 60

// ParseExpression reads a schedule expression in EventBridge Scheduler's
// form, as workflows.Trigger.SchedulerExpression writes it, with its time
// zone: "cron(0 9 ? * MON-FRI *)" in timezone, or "rate(15 minutes)" (no
// time zone). Day-of-week is taken in names only (SUN–SAT): Scheduler
// numbers Sunday 1 and standard cron 0, and the expressions this API writes
// use names, so a number there is refused rather than guessed.
//
// A rate fires at the multiples of its interval since the Unix epoch, so
// its due times do not move when the local gateway restarts.
func ParseExpression(expression, timezone string) (Timing, error) {
	switch {
	case strings.HasPrefix(expression, "cron(") && strings.HasSuffix(expression, ")"):
		return parseCron(expression[len("cron("):len(expression)-1], timezone)
	case strings.HasPrefix(expression, "rate(") && strings.HasSuffix(expression, ")"):
		if timezone != "" {
			return nil, errors.New("a rate has no time zone")
		}
		return parseRate(expression[len("rate(") : len(expression)-1])
	}
	return nil, errors.New(`not "cron(…)" or "rate(…)"`)
}

func parseCron(body, timezone string) (Timing, error) {
	fields := strings.Split(body, " ")
	if len(fields) != 6 {
		return nil, errors.New("cron needs six fields separated by single spaces")
	}
	if fields[5] != "*" {
		return nil, errors.New("cron's year must be *")
	}
	for i, f := range fields[:5] {
		// Checked before robfig/cron sees it: it reads a TZ= prefix itself
		// and knows operators Scheduler does not share.
		if f == "" || strings.ContainsFunc(f, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || strings.ContainsRune("*?,-/", r))
		}) {
			return nil, errors.New("cron fields hold numbers, upper-case names, *, ?, and , - / only")
		}
		if i == 4 && strings.ContainsAny(f, "0123456789") {
			return nil, errors.New("cron's day-of-week must be written in names (SUN-SAT)")
		}
	}
	if fields[2] != "?" && fields[4] != "?" {
		return nil, errors.New("cron needs ? in day-of-month or day-of-week")
	}
	if timezone == "" || timezone == "Local" {
		return nil, errors.New("cron needs an IANA time zone")
	}
	location, err := time.LoadLocation(timezone)
	if err != nil {
		return nil, errors.New("unknown time zone")
	}
	parsed, err := cronFields.Parse(strings.Join(fields[:5], " "))
	if err != nil {
		return nil, errors.New("bad cron: " + err.Error())
	}
	spec := parsed.(*cron.SpecSchedule)
	spec.Location = location
	return cronTiming{spec}, nil
}

// cronTiming is a cron schedule in its time zone.
type cronTiming struct{ spec *cron.SpecSchedule }

// Next is the first due time after t, on the minute. robfig/cron gives the
// zero time for a schedule that never fires within five years.
func (c cronTiming) Next(t time.Time) time.Time { return c.spec.Next(t).UTC() }

func parseRate(body string) (Timing, error) {
	number, unit, ok := strings.Cut(body, " ")
	if !ok {
		return nil, errors.New(`rate is "<number> <unit>"`)
	}
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || number[0] == '0' || n > maxRateMinutes {
		return nil, errors.New("rate's number must be a positive integer")
	}
	perUnit := map[string]int{"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 24 * 60, "days": 24 * 60}[unit]
	if perUnit == 0 || (n == 1) != !strings.HasSuffix(unit, "s") {
		return nil, errors.New("rate's unit is minute(s), hour(s) or day(s), singular for 1 only")
	}
	if n*perUnit > maxRateMinutes {
		return nil, errors.New("rate is longer than 365 days")
	}
	return rateTiming{time.Duration(n*perUnit) * time.Minute}, nil
}

// rateTiming fires at the multiples of every since the Unix epoch.
type rateTiming struct{ every time.Duration }

func (r rateTiming) Next(t time.Time) time.Time {
	// In Unix seconds: time.Truncate counts from the year 1, which would
	// anchor a 7-day rate on another weekday than the epoch's.
	step := int64(r.every / time.Second)
	seconds := t.Unix()
	next := (seconds/step + 1) * step
	if seconds < 0 && seconds%step != 0 {
		next -= step
	}
	return time.Unix(next, 0).UTC()
}
