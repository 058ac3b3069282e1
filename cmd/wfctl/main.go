// Command wfctl is the operator's tool: it creates the table and manages API
// keys directly in DynamoDB, with the operator's own AWS credentials, or in
// the local engine `make dev` starts when no DynamoDB setting is in the
// environment. The first key of an account can only be made here.
//
//	wfctl setup
//	wfctl keys create --account ID --name NAME --scopes a,b,…|all [--expires-at RFC3339]
//	wfctl keys list --account ID
//	wfctl keys revoke --account ID --id KEY_ID
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	// A person runs wfctl: against AWS it reads their profile or SSO login.
	_ "github.com/workflowsapi/workflows/internal/awsconfig/defaultchain"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

const usage = `wfctl: the Workflows API operator tool

  wfctl setup                      create the DynamoDB table (if missing)
  wfctl keys create --account ID --name NAME --scopes a,b,...|all [--expires-at RFC3339]
                                   make a key; its plaintext is the last line of output
  wfctl keys list --account ID     list an account's keys
  wfctl keys revoke --account ID --id KEY_ID
  wfctl runs start WORKFLOW_ID [--input JSON] [--idempotency-key KEY] [--watch]
                                   start a run (and watch it)
  wfctl runs watch RUN_ID          print each step as it progresses; exit 0 only
                                   if the run succeeded
  wfctl schedules sync [--backfill]
                                   make the EventBridge Scheduler schedules match the
                                   stored workflows (SCHEDULE_GROUP_NAME,
                                   SCHEDULED_RUN_FUNCTION_ARN, SCHEDULER_ROLE_ARN,
                                   SCHEDULE_DLQ_ARN: the stack's outputs);
                                   --backfill once after upgrading: finds the
                                   schedule workflows stored before schedules (a Scan)

Environment: TABLE_NAME, DYNAMODB_ENDPOINT (or AWS_ENDPOINT_URL_DYNAMODB) and
the usual AWS settings. With none of the first three set, wfctl uses the local
engine of 'make dev' (` + store.LocalEndpoint + `, table ` + store.LocalTableName + `).
The runs commands call the API instead: WORKFLOWS_API_KEY (required) and
WORKFLOWS_API_URL (default ` + defaultAPIURL + `).
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wfctl:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("see 'wfctl help'")

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(out, usage)
		return nil
	}
	cfg := store.ConfigFromEnvOrLocal()
	if endpoint, ok := devEngine(); ok {
		cfg.Endpoint = endpoint
	}
	switch {
	case args[0] == "setup":
		return setup(ctx, cfg, out)
	case args[0] == "keys" && len(args) > 1:
		switch args[1] {
		case "create":
			return createKey(ctx, cfg, args[2:], out)
		case "list":
			return listKeys(ctx, cfg, args[2:], out)
		case "revoke":
			return revokeKey(ctx, cfg, args[2:], out)
		}
	case args[0] == "schedules" && len(args) > 1 && args[1] == "sync":
		return syncSchedules(ctx, cfg, args[2:], out)
	case args[0] == "runs" && len(args) > 1:
		switch args[1] {
		case "start":
			return startRun(ctx, args[2:], out)
		case "watch":
			return watchRunCommand(ctx, args[2:], out)
		}
	}
	return fmt.Errorf("unknown command %q: %w", strings.Join(args, " "), errUsage)
}

func setup(ctx context.Context, cfg store.Config, out io.Writer) error {
	cfg.Budget = cfg.Budget.Or(store.SetupBudget)
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return err
	}
	created, err := store.EnsureTable(ctx, db, cfg.TableName)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(out, "created table %s\n", cfg.TableName)
	} else {
		fmt.Fprintf(out, "table %s already exists\n", cfg.TableName)
	}
	return nil
}

var accountPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// openForAccount parses a command's flags, checks its --account, and opens
// the keys service: the same rules the API's key routes run.
func openForAccount(ctx context.Context, cfg store.Config, fs *flag.FlagSet, args []string, account *string) (*keys.Service, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := requireAccount(*account); err != nil {
		return nil, err
	}
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return keys.NewService(keysdb.New(db, cfg.TableName), nil), nil
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func requireAccount(account string) error {
	if !accountPattern.MatchString(account) {
		return errors.New("--account must be 1 to 64 characters of letters, digits, _ and -")
	}
	return nil
}

func createKey(ctx context.Context, cfg store.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	account := fs.String("account", "", "account id")
	name := fs.String("name", "", "key name")
	scopeList := fs.String("scopes", "", "comma-separated scopes, or all")
	expiresAt := fs.String("expires-at", "", "optional RFC 3339 expiry")
	service, err := openForAccount(ctx, cfg, fs, args, account)
	if err != nil {
		return err
	}
	scopes, err := parseScopes(*scopeList)
	if err != nil {
		return err
	}
	req := keys.IssueRequest{Name: name, Scopes: &scopes}
	if *expiresAt != "" {
		req.ExpiresAt = expiresAt
	}
	issued, err := service.Issue(ctx, keys.Operator(*account), req)
	var invalid *domain.Error
	if errors.As(err, &invalid) && len(invalid.Details) > 0 {
		return fmt.Errorf("--%s %s", flagOf(invalid.Details[0].Field), invalid.Details[0].Message)
	}
	if err != nil {
		return err
	}
	k := issued.Key
	fmt.Fprintf(out, "created key %s for account %s with scopes %s\n", k.ID, k.AccountID, strings.ReplaceAll(k.Scopes.String(), " ", ","))
	fmt.Fprintln(out, "the key is shown this once; store it now:")
	fmt.Fprintln(out, issued.Plaintext)
	return nil
}

// flagOf names the flag that carries a field of the key request.
func flagOf(field string) string {
	if field == "expiresAt" {
		return "expires-at"
	}
	return field
}

// parseScopes reads --scopes: a comma-separated list, or all.
func parseScopes(list string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		list = strings.ReplaceAll(domain.Scopes(domain.AllScopes).String(), " ", ",")
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	scopes, unknown := domain.NormalizeScopes(names)
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown scopes %s; scopes are %s, or all", strings.Join(unknown, ","), strings.ReplaceAll(domain.Scopes(domain.AllScopes).String(), " ", ","))
	}
	if len(scopes) == 0 {
		return nil, errors.New("--scopes is required")
	}
	return names, nil
}

func listKeys(ctx context.Context, cfg store.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	account := fs.String("account", "", "account id")
	service, err := openForAccount(ctx, cfg, fs, args, account)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSTATUS\tSCOPES\tCREATED")
	now := time.Now()
	cursor := ""
	for {
		page, err := service.List(ctx, keys.Operator(*account), 100, cursor)
		if err != nil {
			return err
		}
		for _, k := range page.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, printable(k.Name), k.Prefix, k.Status(now),
				strings.ReplaceAll(k.Scopes.String(), " ", ","), k.CreatedAt.Format(time.RFC3339))
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	return tw.Flush()
}

func revokeKey(ctx context.Context, cfg store.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys revoke", flag.ContinueOnError)
	account := fs.String("account", "", "account id")
	keyID := fs.String("id", "", "key id")
	service, err := openForAccount(ctx, cfg, fs, args, account)
	if err != nil {
		return err
	}
	k, err := service.Revoke(ctx, keys.Operator(*account), *keyID)
	if errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("account %s has no key %s", *account, *keyID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked key %s (%s)\n", k.ID, printable(k.Name))
	return nil
}

// devEngine finds the engine `make dev` started from this checkout, even on
// another port (DYNAMODB_PORT): scripts/dev.sh writes its endpoint to
// .data/dynalite.endpoint. It applies only when nothing in the environment
// names a DynamoDB, so an operator's settings always win.
func devEngine() (string, bool) {
	for _, name := range []string{"DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB", "TABLE_NAME"} {
		if os.Getenv(name) != "" {
			return "", false
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		raw, err := os.ReadFile(filepath.Join(dir, ".data", "dynalite.endpoint"))
		if err == nil {
			if endpoint := strings.TrimSpace(string(raw)); strings.HasPrefix(endpoint, "http://127.0.0.1:") || strings.HasPrefix(endpoint, "http://localhost:") {
				return endpoint, true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// printable shows a name as it is when every character prints, and quoted
// with escapes otherwise, so a name cannot move the cursor, clear the screen
// or reorder what a terminal shows.
func printable(name string) string {
	for _, r := range name {
		if !unicode.IsGraphic(r) || unicode.Is(unicode.Bidi_Control, r) {
			return strconv.QuoteToASCII(name)
		}
	}
	return name
}
