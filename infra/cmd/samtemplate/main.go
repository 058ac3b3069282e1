// Command samtemplate writes template.yaml, the SAM twin of the CDK stack,
// from the tables the stack is built from (infra/samtemplate):
//
//	cd infra && go run ./cmd/samtemplate -o ../template.yaml
//
// Without -o it writes to standard output. `make samtemplate` runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/workflowsapi/workflows/infra/samtemplate"
)

func main() {
	out := flag.String("o", "", "write the template to this file instead of standard output")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "samtemplate: no arguments are taken; -o names the file")
		os.Exit(2)
	}
	body, err := samtemplate.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(body)
	} else {
		err = os.WriteFile(*out, body, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "samtemplate:", err)
		os.Exit(1)
	}
}
