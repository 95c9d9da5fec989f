package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func rsaPEM(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestKeysRotateWhileServingKeepsEverySecretReadable(t *testing.T) {
	dir := t.TempDir()
	url := startServe(t, dir, nil)
	priv, _ := json.Marshal(rsaPEM(t))
	var clients []*e2eClient
	for i := 0; i < 3; i++ {
		c := newE2EClient(t, url)
		c.signup(fmt.Sprintf("rot%d@example.com", i))
		if st, body := c.do("POST", "/api/v1/secrets", `{"platform":"kalshi","is_paper":true,"api_key":"00000000-0000-4000-8000-00000000000`+fmt.Sprint(i)+`","private_key":`+string(priv)+`}`); st != 201 {
			t.Fatalf("store secret: %d %s", st, body)
		}
		clients = append(clients, c)
	}
	validate := func(c *e2eClient) error {
		st, body := c.do("POST", "/api/v1/secrets/kalshi/validate?paper=true", "")
		if st != 200 || !strings.Contains(body, `"valid":true`) {
			return fmt.Errorf("validate: %d %s", st, body)
		}
		return nil
	}
	for _, c := range clients {
		if err := validate(c); err != nil {
			t.Fatal(err)
		}
	}
	keysCmd := func(args ...string) string {
		var out bytes.Buffer
		if err := run(context.Background(), append(args, "--data-dir", dir), func(string) string { return "" }, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	before := keysCmd("keys", "status")

	// Keep the running server decrypting while the CLI rotates.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failures atomic.Int32
	var reads atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := validate(clients[i%len(clients)]); err != nil {
				failures.Add(1)
				t.Error(err)
				return
			}
			reads.Add(1)
		}
	}()
	out := keysCmd("keys", "rotate")
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("decrypts failed during rotation")
	}
	if !strings.Contains(out, "3 total, 3 rewrapped") {
		t.Fatalf("rotate: %s", out)
	}
	after := keysCmd("keys", "status")
	if before == after {
		t.Fatalf("status unchanged after rotation:\n%s", after)
	}
	// Every secret is still readable by the server that was running all along.
	for _, c := range clients {
		if err := validate(c); err != nil {
			t.Fatal(err)
		}
	}
	// Once no data key uses the old master key, it can be pruned.
	if out := keysCmd("keys", "rotate", "--prune"); !strings.Contains(out, "pruned 2") && !strings.Contains(out, "pruned 1") {
		t.Fatalf("prune: %s", out)
	}
	for _, c := range clients {
		if err := validate(c); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d decrypts served during rotation; status after:\n%s", reads.Load(), after)
}
