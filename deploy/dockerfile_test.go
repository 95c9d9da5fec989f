package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile splits a Dockerfile into stages. It knows what this
// repository's Dockerfile needs: comments, backslash continuations, ARGs
// before the first FROM (substituted into FROM lines), and "FROM image AS
// name".
func parseDockerfile(t *testing.T, text string) (args map[string]string, stages []stage) {
	t.Helper()
	args = map[string]string{}
	var ins []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, rest, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.TrimSpace(rest), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continued instruction")
	}
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := stage{from: expandArgs(f[0], args)}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				t.Fatalf("line %d: FROM %s: want FROM image [AS name]", in.line, in.args)
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case len(stages) == 0:
			t.Fatalf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return args, stages
}

func expandArgs(s string, args map[string]string) string {
	return regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`).ReplaceAllStringFunc(s, func(m string) string {
		return args[strings.Trim(m, "${}")]
	})
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) last(cmd string) (instruction, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// execForm decodes an instruction's JSON exec form (["a", "b"]).
func execForm(t *testing.T, in instruction, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil || len(v) == 0 {
		t.Fatalf("line %d: %s %s is not in exec form: %v", in.line, in.cmd, args, err)
	}
	return v
}

// envOf returns the stage's ENV settings (KEY=value form).
func (s stage) envOf() map[string]string {
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goLine is the go directive of the module's go.mod, as major.minor.
func goLine(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return m[1]
}

func TestDockerfileIsMultiStageStaticAndNonRoot(t *testing.T) {
	_, stages := parseDockerfile(t, readRepoFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("the build stage uses go.mod's Go release", func(t *testing.T) {
		if want := "golang:" + goLine(t); build.from != want {
			t.Errorf("build stage FROM %s, want %s", build.from, want)
		}
		if build.name == "" {
			t.Error("the build stage has no name for COPY --from")
		}
	})

	t.Run("the binary is built without cgo from cmd/polybot", func(t *testing.T) {
		cgoOff := build.envOf()["CGO_ENABLED"] == "0"
		var built bool
		for _, in := range build.all("RUN") {
			cgoOff = cgoOff || strings.Contains(in.args, "CGO_ENABLED=0")
			built = built || regexp.MustCompile(`go build .*-o /out/polybot \./cmd/polybot`).MatchString(in.args)
		}
		if !cgoOff {
			t.Error("the build stage does not set CGO_ENABLED=0")
		}
		if !built {
			t.Error("no RUN builds ./cmd/polybot into /out/polybot")
		}
	})

	t.Run("the run stage has no shell or libc and runs as a non-root uid", func(t *testing.T) {
		if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
			t.Errorf("run stage FROM %s, want scratch or distroless/static", final.from)
		}
		if len(final.all("RUN")) > 0 {
			t.Error("the run stage has RUN instructions: it has no shell to run them")
		}
		u, ok := final.last("USER")
		if !ok {
			t.Fatal("the run stage sets no USER: it would run as root")
		}
		uid, _, _ := strings.Cut(u.args, ":")
		if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
			t.Errorf("USER %s: want a numeric non-zero uid (runAsNonRoot can only check numbers)", u.args)
		}
	})

	t.Run("entrypoint, health check and port fit what the stages copy", func(t *testing.T) {
		copied := map[string]bool{}
		for _, in := range final.all("COPY") {
			f := strings.Fields(in.args)
			if !strings.HasPrefix(f[0], "--from=") || strings.TrimPrefix(f[0], "--from=") != build.name {
				continue
			}
			dst := f[len(f)-1]
			for _, src := range f[1 : len(f)-1] {
				if strings.HasPrefix(src, "--") {
					continue
				}
				copied[path.Join(dst, path.Base(src))] = true
			}
		}
		ep, ok := final.last("ENTRYPOINT")
		if !ok {
			t.Fatal("no ENTRYPOINT")
		}
		if bin := execForm(t, ep, ep.args)[0]; !copied[bin] || path.Base(bin) != "polybot" {
			t.Errorf("ENTRYPOINT %s is not the polybot binary copied from the build stage (copied: %v)", bin, copied)
		}
		hc, ok := final.last("HEALTHCHECK")
		if !ok {
			t.Fatal("no HEALTHCHECK")
		}
		_, cmd, ok := strings.Cut(hc.args, "CMD ")
		if !ok {
			t.Fatalf("HEALTHCHECK %s has no CMD", hc.args)
		}
		probe := execForm(t, hc, cmd)
		if !copied[probe[0]] {
			t.Errorf("HEALTHCHECK runs %s, which the run stage does not copy", probe[0])
		}
		addr := final.envOf()["POLYBOT_ADDR"]
		_, port, _ := strings.Cut(addr, ":")
		if !strings.Contains(probe[len(probe)-1], "127.0.0.1:"+port+"/healthz") {
			t.Errorf("HEALTHCHECK %v does not probe /healthz on POLYBOT_ADDR %s", probe, addr)
		}
		ex, _ := final.last("EXPOSE")
		if !strings.Contains(" "+ex.args+" ", " "+port+" ") {
			t.Errorf("EXPOSE %s does not include the listen port %s", ex.args, port)
		}
		if !strings.HasPrefix(addr, "0.0.0.0:") {
			t.Errorf("POLYBOT_ADDR=%s: a container must listen on all interfaces", addr)
		}
	})
}

// TestImageBuildIsPureGo asks the go command what CGO_ENABLED=0 would
// build: a package that needs cgo would be missing files or fail to load.
func TestImageBuildIsPureGo(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", `{{.ImportPath}}|{{len .CgoFiles}}|{{if .Error}}{{.Error}}{{end}}{{range .DepsErrors}}{{.}}{{end}}`,
		"github.com/polybot/polybot/cmd/polybot", "github.com/polybot/polybot/deploy/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			t.Fatalf("go list printed %q", line)
		}
		n++
		if f[1] != "0" || f[2] != "" {
			t.Errorf("%s with CGO_ENABLED=0: %s cgo files, error %q", f[0], f[1], f[2])
		}
	}
	if n < 50 {
		t.Fatalf("go list named only %d packages: the query is wrong", n)
	}
}

// TestDockerignoreKeepsTheBuildInputs checks that no .dockerignore pattern
// drops a file the image's go build reads: the module files, every Go file
// and every embedded file of the two binaries' packages in this module.
func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if eq .Module.Path "github.com/polybot/polybot"}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}`, "github.com/polybot/polybot/cmd/polybot", "github.com/polybot/polybot/deploy/probe")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root = path.Dir(root)
	files := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		files = append(files, strings.TrimPrefix(f, root+"/"))
	}
	if len(files) < 100 {
		t.Fatalf("only %d build inputs listed: the query is wrong", len(files))
	}
	for _, f := range files {
		for _, p := range patterns {
			if dockerignored(p, f) {
				t.Errorf(".dockerignore pattern %q drops %s, which the build needs", p, f)
			}
		}
	}
	// And it does keep secrets and local state out.
	for _, f := range []string{"data/polybot.db", "data/master.key", "deploy/compose/polybot.env", ".git/config"} {
		var dropped bool
		for _, p := range patterns {
			dropped = dropped || dockerignored(p, f)
		}
		if !dropped {
			t.Errorf("%s would be sent to the builder", f)
		}
	}
}

// dockerignored reports whether pattern p excludes file f (a slash path
// relative to the context): p matches f or one of its parent directories;
// a leading **/ matches at any depth.
func dockerignored(p, f string) bool {
	parts := strings.Split(f, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if ok, _ := path.Match(p, prefix); ok {
			return true
		}
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			for j := 0; j < i; j++ {
				if ok, _ := path.Match(rest, strings.Join(parts[j:i], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}
