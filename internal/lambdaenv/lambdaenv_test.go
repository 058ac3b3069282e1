package lambdaenv_test

import (
	"log/slog"
	"testing"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
)

func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		name, logLevel, lambdaLevel string
		want                        slog.Level
	}{
		{"is info by default", "", "", slog.LevelInfo},
		{"follows LOG_LEVEL, in any case", "debug", "", slog.LevelDebug},
		{"follows Lambda's own setting when LOG_LEVEL is unset", "", "WARN", slog.LevelWarn},
		{"prefers LOG_LEVEL to Lambda's", "error", "DEBUG", slog.LevelError},
		{"is info for a name it does not know, never silent", "verbose", "", slog.LevelInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LOG_LEVEL", tc.logLevel)
			t.Setenv("AWS_LAMBDA_LOG_LEVEL", tc.lambdaLevel)
			if got := lambdaenv.LogLevel(); got != tc.want {
				t.Fatalf("LogLevel() = %v, want %v", got, tc.want)
			}
		})
	}
}
