package simcheck

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ListeningPrefix starts the line `polybot serve` prints once it serves.
const ListeningPrefix = "PolyBot is listening on "

// Proc is a child process: its stdout lines go to a channel (and its log),
// its stderr to the log.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // the log file's path
	// Base is the URL of a `polybot serve` once Line has read its
	// listening line.
	Base  string
	lines chan string
	done  chan struct{}
	err   error // once done
}

// Spawn starts bin with args and env (nil: ChildEnv()), its output in
// logPath. The process is killed when the test ends.
func Spawn(t testing.TB, name, logPath string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: name, Log: logPath, lines: make(chan string, 256), done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	if env == nil {
		env = ChildEnv()
	}
	p.Cmd.Env = env
	p.Cmd.Stdout = &lineWriter{out: p.lines, log: log}
	p.Cmd.Stderr = log
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		log.Close()
		close(p.done)
	}()
	t.Cleanup(p.Kill9)
	return p
}

// Line returns the next line the process printed on stdout.
func (p *Proc) Line(t testing.TB, within time.Duration) string {
	t.Helper()
	select {
	case l := <-p.lines:
		if u, ok := strings.CutPrefix(l, ListeningPrefix); ok {
			p.Base = u
		}
		return l
	case <-p.done:
		t.Fatalf("%s exited early: %v\n%s", p.Name, p.err, Tail(p.Log, 20))
	case <-time.After(within):
		t.Fatalf("%s printed nothing within %v\n%s", p.Name, within, Tail(p.Log, 20))
	}
	return ""
}

// WaitListening reads lines until `polybot serve` says it listens, and
// returns its URL.
func (p *Proc) WaitListening(t testing.TB, within time.Duration) string {
	t.Helper()
	end := time.Now().Add(within)
	for !strings.HasPrefix(p.Line(t, time.Until(end)), ListeningPrefix) {
	}
	return p.Base
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended (once Done).
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig if the process is still running.
func (p *Proc) Signal(sig syscall.Signal) {
	if !p.Exited() {
		_ = p.Cmd.Process.Signal(sig)
	}
}

// Kill9 sends SIGKILL (if still running) and waits for the process.
func (p *Proc) Kill9() {
	if !p.Exited() {
		_ = p.Cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once it runs
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop asks for a graceful stop (SIGTERM) and wants exit status 0.
func (p *Proc) Stop(t testing.TB, within time.Duration) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s did not stop cleanly: %v\n%s", p.Name, p.err, Tail(p.Log, 20))
		}
	case <-time.After(within):
		t.Fatalf("%s did not stop within %v of SIGTERM\n%s", p.Name, within, Tail(p.Log, 20))
	}
}

type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	out chan string
	log io.Writer
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.log.Write(b)
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		select {
		case w.out <- string(w.buf[:i]):
		default: // nobody reads that far
		}
		w.buf = w.buf[i+1:]
	}
}

// ChildEnv is the test's environment without PolyBot's own settings, so
// only the flags (and what the caller adds) configure the children.
func ChildEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "POLYBOT_") || strings.HasPrefix(kv, "SUPABASE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Build builds the polybot binary into dir and returns its path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "polybot")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/polybot/polybot/cmd/polybot")
	cmd.Env = ChildEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Run runs the binary to completion and returns its combined output.
func Run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = ChildEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("polybot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// RSAKey makes an RSA key, writes its public half to dir/<name>.pub.pem
// and returns its private PEM.
func RSAKey(t testing.TB, dir, name string) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, filepath.Join(dir, name+".pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func WriteFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		lines = append(lines, err.Error())
	}
	return strings.Join(lines, "\n")
}
