package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads a Compose file the way `docker compose` does (schema
// validation, interpolation with the file's defaults, merge keys), without
// reading the gitignored env file or reaching a Docker engine.
func loadCompose(t *testing.T, file string, env map[string]string) (*types.Project, error) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Content: body}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("polybot", true)
		o.SkipResolveEnvironment = true
	})
}

var roleServices = map[string]string{"api": "api", "gateway": "gateway", "worker-1": "worker", "worker-2": "worker"}

func TestComposeRunsTheRolesOnPostgresAndNATS(t *testing.T) {
	p, err := loadCompose(t, "../docker-compose.yml", nil)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	want := []string{"api", "gateway", "migrate", "nats", "postgres", "worker-1", "worker-2"}
	if got := p.ServiceNames(); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	s := p.Services
	image := s["migrate"].Image
	if image != "polybot:dev" {
		t.Errorf("migrate image %q, want the default polybot:dev", image)
	}

	t.Run("PostgreSQL and NATS JetStream report healthy", func(t *testing.T) {
		pg, nats := s["postgres"], s["nats"]
		if !strings.HasPrefix(pg.Image, "postgres:") || pg.HealthCheck == nil || !slices.Contains(pg.HealthCheck.Test, "pg_isready") {
			t.Errorf("postgres: image %q, healthcheck %+v", pg.Image, pg.HealthCheck)
		}
		if pg.Environment["POSTGRES_DB"] == nil || *pg.Environment["POSTGRES_DB"] != "polybot" {
			t.Errorf("postgres does not create the polybot database")
		}
		if !strings.HasPrefix(nats.Image, "nats:") || !slices.Contains(nats.Command, "--jetstream") {
			t.Errorf("nats: image %q, command %v: want JetStream on", nats.Image, nats.Command)
		}
		if nats.HealthCheck == nil || !strings.Contains(strings.Join(nats.HealthCheck.Test, " "), "js-enabled-only=true") {
			t.Errorf("nats healthcheck %+v does not wait for JetStream", nats.HealthCheck)
		}
	})

	t.Run("migrate runs once PostgreSQL is healthy", func(t *testing.T) {
		m := s["migrate"]
		if !slices.Equal(m.Command, types.ShellCommand{"migrate"}) {
			t.Errorf("migrate command %v", m.Command)
		}
		if d := m.DependsOn["postgres"]; d.Condition != types.ServiceConditionHealthy {
			t.Errorf("migrate depends on postgres %q, want healthy", d.Condition)
		}
	})

	for name, role := range roleServices {
		t.Run(name+" runs serve --role "+role, func(t *testing.T) {
			svc := s[name]
			if svc.Image != image {
				t.Errorf("image %q, want %q like migrate", svc.Image, image)
			}
			if want := (types.ShellCommand{"serve", "--role", role}); !slices.Equal(svc.Command, want) {
				t.Errorf("command %v, want %v", svc.Command, want)
			}
			for dep, cond := range map[string]string{
				"postgres": types.ServiceConditionHealthy,
				"nats":     types.ServiceConditionHealthy,
				"migrate":  types.ServiceConditionCompletedSuccessfully,
			} {
				if got := svc.DependsOn[dep].Condition; got != cond {
					t.Errorf("depends on %s %q, want %q", dep, got, cond)
				}
			}
			if svc.HealthCheck == nil || !slices.Contains(svc.HealthCheck.Test, "/usr/local/bin/polybot-probe") ||
				!strings.HasSuffix(svc.HealthCheck.Test[len(svc.HealthCheck.Test)-1], ":8080/readyz") {
				t.Errorf("healthcheck %+v, want polybot-probe on /readyz", svc.HealthCheck)
			}
			if !svc.ReadOnly || !slices.Contains(svc.CapDrop, "ALL") {
				t.Errorf("read_only %v, cap_drop %v: want a read-only root and no capabilities", svc.ReadOnly, svc.CapDrop)
			}
			// The master key comes from the gitignored env file, never this file.
			if len(svc.EnvFiles) != 1 || !strings.HasSuffix(svc.EnvFiles[0].Path, "deploy/compose/polybot.env") || !bool(svc.EnvFiles[0].Required) {
				t.Errorf("env_file %+v, want the required deploy/compose/polybot.env", svc.EnvFiles)
			}
			for k := range svc.Environment {
				if strings.HasPrefix(k, "POLYBOT_MASTER_KEY") {
					t.Errorf("%s is set in docker-compose.yml", k)
				}
			}
			if u := svc.Environment["POLYBOT_DATABASE_URL"]; u == nil || !regexp.MustCompile(`^postgres://polybot_app@postgres:5432/polybot\b`).MatchString(*u) {
				t.Errorf("POLYBOT_DATABASE_URL %v: want polybot_app with no password in the URL", u)
			}
			if u := svc.Environment["POLYBOT_NATS_URL"]; u == nil || *u != "nats://nats:4222" {
				t.Errorf("POLYBOT_NATS_URL %v", u)
			}
		})
	}

	t.Run("only the api is published, on loopback", func(t *testing.T) {
		for name, svc := range s {
			if name == "api" {
				if len(svc.Ports) != 1 || svc.Ports[0].HostIP != "127.0.0.1" || svc.Ports[0].Target != 8080 {
					t.Errorf("api ports %+v, want 127.0.0.1:8080:8080", svc.Ports)
				}
			} else if len(svc.Ports) > 0 {
				t.Errorf("%s publishes %+v", name, svc.Ports)
			}
		}
	})

	t.Run("workers have distinct identities", func(t *testing.T) {
		a, b := s["worker-1"].Environment["POLYBOT_WORKER_ID"], s["worker-2"].Environment["POLYBOT_WORKER_ID"]
		if a == nil || b == nil || *a == *b {
			t.Errorf("POLYBOT_WORKER_ID %v and %v", a, b)
		}
	})
}

func TestComposeEnvFileAndInitScriptExist(t *testing.T) {
	example := readRepoFile(t, "deploy/compose/polybot.env.example")
	if !regexp.MustCompile(`(?m)^POLYBOT_MASTER_KEY=$`).MatchString(example) {
		t.Errorf("polybot.env.example has no empty POLYBOT_MASTER_KEY= line to fill in")
	}
	if !regexp.MustCompile(`(?m)^/polybot\.env$`).MatchString(readRepoFile(t, "deploy/compose/.gitignore")) {
		t.Errorf("deploy/compose/.gitignore does not ignore the filled-in polybot.env")
	}
	fi, err := os.Stat("compose/initdb/10-polybot-app.sh")
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("the init script is missing or not executable: %v", err)
	}
}

// TestComposeLoaderRejectsATypo proves the load above is strict: the same
// file with one misspelt service key fails.
func TestComposeLoaderRejectsATypo(t *testing.T) {
	body := readRepoFile(t, "docker-compose.yml")
	typo := strings.Replace(body, "    read_only: true\n    command: [\"migrate\"]", "    readonly: true\n    command: [\"migrate\"]", 1)
	if typo == body {
		t.Fatal("the migrate service's read_only line moved; update this test")
	}
	f := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(f, []byte(typo), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, f, nil); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("a misspelt key loaded: %v", err)
	}
}
