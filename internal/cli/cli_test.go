package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantStderr string
	}{
		{"success exits 0 and prints nothing", nil, 0, ""},
		{"-h exits 0 because the usage is the answer", flag.ErrHelp, 0, ""},
		{"a wrapped -h still counts as help", fmt.Errorf("parsing: %w", flag.ErrHelp), 0, ""},
		{"a failure exits 1 naming the command", errors.New("listening: address in use"), 1, "echo: listening: address in use\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := ExitStatus("echo", tt.err, &stderr); got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
