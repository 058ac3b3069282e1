package functions_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/workflowsapi/workflows/internal/routes"
)

// readRouteBudget is issue 17's bound on a read route's bootstrap, as it
// deploys (linux/arm64, the flags of sam build and bench/startup).
const readRouteBudget = 8 << 20

// TestReadRoutesFitTheirBudget builds every function whose routes are all
// reads (GET) as it deploys and holds it to 8 MiB. What links what is
// TestFunctionsLinkOnlyTheClientsTheyAreGranted's; this catches what an
// import graph cannot see, such as a package variable whose initializer
// keeps a whole decoder alive in functions that never call it (jsonbody's
// integer option once added 0.5 MiB to every function this way).
func TestReadRoutesFitTheirBudget(t *testing.T) {
	var packages []string
	for _, fn := range routes.Functions() {
		reads := len(fn.Routes) > 0
		for _, r := range fn.Routes {
			reads = reads && r.Method == http.MethodGet
		}
		if reads {
			packages = append(packages, "./functions/"+fn.Name)
		}
	}
	if len(packages) < 10 {
		t.Fatalf("only %d read routes in the route table: %v", len(packages), packages)
	}
	out := t.TempDir()
	cmd := exec.Command("go", append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out + "/"}, packages...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, output)
	}
	for _, pkg := range packages {
		name := filepath.Base(pkg)
		info, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %.2f MiB", name, float64(info.Size())/(1<<20))
		if info.Size() > readRouteBudget {
			t.Errorf("%s is %.2f MiB arm64, over the read routes' %d MiB", name, float64(info.Size())/(1<<20), readRouteBudget>>20)
		}
	}
}
