package defaultchain_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/workflowsapi/workflows/internal/awsconfig"
	_ "github.com/workflowsapi/workflows/internal/awsconfig/defaultchain"
)

// With the package linked, Load reads a profile from the shared files, which
// the environment-only loader never does.
func TestLinkingItMakesLoadReadProfiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"config":      "[profile person]\nregion = ap-south-1\n",
		"credentials": "[person]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = fromfile\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "person")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	cfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-south-1" || creds.AccessKeyID != "AKIAPROFILE" {
		t.Errorf("region %q, key %q; want the profile's", cfg.Region, creds.AccessKeyID)
	}
}
