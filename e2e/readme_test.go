package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeRootToken is the root token the README's session names.
const readmeRootToken = "kp_root_readme_example"

// readmeFailures are the answers other than 2xx that the README's session
// shows on purpose, by operation and status, with how many times.
var readmeFailures = map[string]int{
	"backfillSamples 400": 1, // all or nothing: the bulk with a bad sample stores nothing
	"getApiKey 404":       1, // the localized problem, for the key just deleted
}

// TestREADMESession runs the README's shell session, every sh block from
// "A session with curl" up to "Console" in order, as one bash script with
// set -euo pipefail (so an undefined variable fails it), against the binary
// as `make run` serves it (SQLite, the README's root token), from a folder
// holding bin/keyplane as `make build` leaves it. Every request must be
// answered 2xx but for the failures the README shows (readmeFailures), and
// those must still happen: an id written into the README by hand, a dated
// window or a renamed field shows up as a 4xx here.
func TestREADMESession(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README's session needs %s", tool)
			}
			t.Skipf("the README's session needs %s", tool)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := readmeSession(string(readme), "## A session with curl", "## Console")
	if err != nil {
		t.Fatal(err)
	}
	p := startEnv(t, "", t.TempDir(), "KEYPLANE_ROOT_TOKEN="+readmeRootToken)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dir, "bin", "keyplane")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// The README's server listens on 127.0.0.1:8080; this one on a free port.
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.ReplaceAll(script, "http://127.0.0.1:8080", p.url))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's session failed: %v\n%s", err, out)
	}
	p.stop(t)

	answers, err := requestLog(p.logs.String())
	if err != nil {
		t.Fatal(err)
	}
	failures := map[string]int{}
	for _, a := range answers {
		if a.Status >= 300 {
			failures[fmt.Sprintf("%s %d", a.Operation, a.Status)]++
		}
	}
	for f, n := range failures {
		if readmeFailures[f] != n {
			t.Errorf("%s answered %d times in the README's session, want %d (the README shows no other failures)\n%s", f, n, readmeFailures[f], out)
		}
	}
	for f, n := range readmeFailures {
		if failures[f] != n {
			t.Errorf("%s answered %d times, want %d: the failure the README shows no longer happens", f, failures[f], n)
		}
	}
	if len(answers) < 35 {
		t.Errorf("%d requests in the README's session, want at least 35: the blocks were not all run", len(answers))
	}
}

// shBlock is a fenced block of shell in Markdown.
var shBlock = regexp.MustCompile("(?ms)^```sh\n(.*?)^```$")

// readmeSession is the text of the sh blocks of readme between the headings
// from and to, in order, one script.
func readmeSession(readme, from, to string) (string, error) {
	start, end := strings.Index(readme, "\n"+from+"\n"), strings.Index(readme, "\n"+to+"\n")
	if start < 0 || end < start {
		return "", fmt.Errorf("README: no %q section before %q", from, to)
	}
	blocks := shBlock.FindAllStringSubmatch(readme[start:end], -1)
	if len(blocks) == 0 {
		return "", fmt.Errorf("README: no sh block between %q and %q", from, to)
	}
	var script strings.Builder
	for _, b := range blocks {
		script.WriteString(b[1])
	}
	return script.String(), nil
}

// answer is one request as the access log records it.
type answer struct {
	Operation string `json:"operation"`
	Status    int    `json:"status"`
}

// requestLog reads the access log's lines ("msg":"request") out of a JSON
// log.
func requestLog(logs string) ([]answer, error) {
	var out []answer
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			answer
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("log line %q: %w", sc.Text(), err)
		}
		if line.Msg == "request" && !slices.Contains([]string{"getHealthz", "getReadyz"}, line.Operation) {
			out = append(out, line.answer)
		}
	}
	return out, sc.Err()
}
