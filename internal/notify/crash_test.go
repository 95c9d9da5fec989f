//go:build unix

package notify_test

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/notify/notifytest"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
)

const crashDirEnv = "POLYBOT_NOTIFY_CRASH_DIR"

// TestCrashChild is the dispatcher process the crash test starts and
// kills; it runs only under that test.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestSIGKILLDuringDeliveryLosesNothingAndSendsNothingTwice")
	}
	db, err := sqlite.Open(filepath.Join(dir, "polybot.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	kr, err := secrets.OpenKeyFile(filepath.Join(dir, "master.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, db, kr); err != nil {
		t.Fatal(err)
	}
	d := notify.New(notify.Config{Store: db, Box: secrets.NewBox(kr, 0), Poll: 20 * time.Millisecond, Workers: 4,
		Lease: 3 * time.Second, SendTimeout: 2500 * time.Millisecond, Backoff: 100 * time.Millisecond, Rate: 1000, Burst: 1000,
		Senders: map[string]notify.Sender{polybot.ChannelWebhook: notify.NewWebhook(notify.HTTPConfig{AllowPrivate: true}, nil)}})
	_ = d.Run(ctx)
}

func TestSIGKILLDuringDeliveryLosesNothingAndSendsNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	rcv := notifytest.NewReceiver(t)
	dir := t.TempDir()
	r := newRig(t, dir, nil)
	r.clock.Set(time.Now().UTC())
	r.addUser("crash@example.com")
	r.d = notify.New(notify.Config{Store: r.db, Box: r.box, Senders: map[string]notify.Sender{
		polybot.ChannelWebhook: notify.NewWebhook(notify.HTTPConfig{AllowPrivate: true}, nil)}})
	dest, secret := r.webhook(rcv.URL)
	rcv.SetSecret(secret)
	if _, err := r.d.SendTest(r.ctx, r.user, dest.ID); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		r.alert("crash-" + string(rune('a'+i)))
	}
	_, before, _ := rcv.Stats()
	// The receiver takes the first four deliveries and then hangs: the
	// child is killed while they are in flight, delivered but not recorded.
	rcv.Fail(notifytest.Fault{Late: true, Delay: time.Minute, Times: 4})
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := child()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if reqs, _, _ := rcv.Stats(); reqs >= 1+4 {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("the child never reached the receiver")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	// What the receiver took before the kill, and what the store shows as
	// claimed but not recorded: the first is within the second (a batch
	// is recorded once all of it is answered), and at least the four the
	// receiver holds.
	_, atKill, _ := rcv.Stats()
	took := len(atKill) - len(before)
	claimed := 0
	for _, d := range r.deliveries() {
		if d.State == polybot.DeliveryPending && d.Attempts == 1 {
			claimed++
		}
		if d.State == polybot.DeliveryDelivered && atKill[d.Key] == 0 {
			t.Errorf("delivery %s is recorded delivered but the receiver never took it", d.EventID)
		}
	}
	if took < 4 || claimed < 4 {
		t.Errorf("at the kill the receiver had taken %d and %d were claimed unrecorded; want at least the 4 in flight", took, claimed)
	}

	second := child()
	defer func() { second.Process.Signal(syscall.SIGTERM); second.Wait() }()
	deadline = time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, d := range r.deliveries() {
			if d.State == polybot.DeliveryDelivered {
				done++
			}
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart only %d of %d were delivered: %v", done, n, r.deliveries())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, byKey, bad := rcv.Stats()
	twice := 0
	for _, d := range r.deliveries() {
		switch byKey[d.Key] {
		case 1:
		case 2:
			twice++ // taken before the kill, not yet recorded: sent again under the same key
			if atKill[d.Key] != 1 {
				t.Errorf("delivery %s came twice but was not taken before the kill", d.EventID)
			}
		default:
			t.Errorf("delivery %s reached the receiver %d times", d.EventID, byKey[d.Key])
		}
	}
	recorded := n - claimed // delivered and recorded before the kill: never sent again
	if len(byKey)-len(before) != n || twice > took || twice < took-recorded || len(bad) != 0 {
		t.Errorf("the receiver took %d new keys (want %d), %d twice (%d taken before the kill), refused %v", len(byKey)-len(before), n, twice, took, bad)
	}
	t.Logf("at the kill: %d taken by the receiver, %d claimed unrecorded; after the restart %d arrived a second time under their key", took, claimed, twice)
}
