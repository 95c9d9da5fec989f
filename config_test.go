package polybot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func freeProfile() *polybot.Profile {
	tiers := polybot.DefaultTiers()
	return polybot.NewProfile(polybot.NewID(), "a@example.com", &tiers[0], time.Unix(0, 0))
}

func TestDefaultConfigHasTheSeedsDefaults(t *testing.T) {
	c := polybot.DefaultConfig(polybot.NewID(), time.Unix(0, 0))
	if !c.DryRun || c.MinProfitPct.String() != "1.00" || c.MaxTradeSizeUSD.String() != "50.00" || c.MaxDailyLossUSD.String() != "100.00" {
		t.Errorf("trading defaults: %+v", c)
	}
	if c.EnableCopyTrading || !c.EnableSinglePlatformArb || c.EnableCrossPlatformArb || c.EnableOverlappingArb || !c.EnableNewsArbitrage {
		t.Errorf("strategy defaults: %+v", c)
	}
	if !c.EnablePolymarket || !c.EnableKalshi || c.EnableAlpaca || c.EnableIBKR {
		t.Errorf("platform defaults: %+v", c)
	}
	if !c.NotifyOnTrade || c.NotifyOnOpportunity || !c.NotifyDailySummary || len(c.NotificationChannels) != 1 || c.NotificationChannels[0] != "email" || string(c.AdvancedConfig) != "{}" {
		t.Errorf("notification defaults: %+v", c)
	}
	if err := c.Validate(freeProfile()); err != nil {
		t.Errorf("defaults do not validate on the free plan: %v", err)
	}
}

func TestConfigPatchRejectsBadInputNamingTheField(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"malformed json", `{"dry_run": `, "body"},
		{"not an object", `[1,2]`, "body"},
		{"trailing data", `{"dry_run":true} {}`, "body"},
		{"unknown field", `{"dry_rn": true}`, "dry_rn"},
		{"read-only field", `{"user_id": "x"}`, "user_id"},
		{"null", `{"dry_run": null}`, "dry_run"},
		{"wrong type bool", `{"dry_run": "yes"}`, "dry_run"},
		{"negative amount", `{"max_trade_size_usd": "-5"}`, "max_trade_size_usd"},
		{"zero amount", `{"max_daily_loss_usd": 0}`, "max_daily_loss_usd"},
		{"over the plan's cap", `{"max_trade_size_usd": "50.01"}`, "max_trade_size_usd"},
		{"sub-cent amount", `{"max_trade_size_usd": "1.001"}`, "max_trade_size_usd"},
		{"percentage over 100", `{"min_profit_pct": 101}`, "min_profit_pct"},
		{"negative percentage", `{"min_profit_pct": -0.5}`, "min_profit_pct"},
		{"float syntax", `{"min_profit_pct": 1e2}`, "min_profit_pct"},
		{"strategy not in plan", `{"enable_copy_trading": true}`, "enable_copy_trading"},
		{"unknown channel", `{"notification_channels": ["pigeon"]}`, "notification_channels"},
		{"duplicate channel", `{"notification_channels": ["email","email"]}`, "notification_channels"},
		{"channels not a list", `{"notification_channels": "email"}`, "notification_channels"},
		{"advanced not an object", `{"advanced_config": [1]}`, "advanced_config"},
		{"advanced too large", `{"advanced_config": {"x":"` + strings.Repeat("a", polybot.MaxAdvancedConfigBytes) + `"}}`, "advanced_config"},
	}
	p := freeProfile()
	cur := polybot.DefaultConfig(p.ID, time.Unix(0, 0))
	before := *cur
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cur.ApplyPatch([]byte(tt.body), p)
			if polybot.ErrorCode(err) != polybot.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			if _, ok := polybot.ErrorFields(err)[tt.field]; !ok {
				t.Errorf("fields = %v, want one naming %q", polybot.ErrorFields(err), tt.field)
			}
		})
	}
	if cur.MaxTradeSizeUSD != before.MaxTradeSizeUSD || cur.DryRun != before.DryRun {
		t.Error("a rejected patch changed the current config")
	}
}

func TestConfigPatchChangesOnlyTheNamedFields(t *testing.T) {
	p := freeProfile()
	cur := polybot.DefaultConfig(p.ID, time.Unix(0, 0))
	next, err := cur.ApplyPatch([]byte(`{"dry_run": false, "min_profit_pct": "0.0001", "max_trade_size_usd": 49.99, "notification_channels": ["telegram","email"], "advanced_config": {"k": 1}}`), p)
	if err != nil {
		t.Fatal(err)
	}
	if next.DryRun || next.MinProfitPct.Micros() != 100 || next.MaxTradeSizeUSD.String() != "49.99" || strings.Join(next.NotificationChannels, ",") != "telegram,email" || string(next.AdvancedConfig) != `{"k":1}` {
		t.Errorf("patched = %+v", next)
	}
	if next.MaxDailyLossUSD != cur.MaxDailyLossUSD || !next.EnableKalshi || next.UserID != cur.UserID {
		t.Errorf("untouched fields changed: %+v", next)
	}
	if !cur.DryRun {
		t.Error("ApplyPatch changed its receiver")
	}
}

func TestConfigPatchAfterADowngradeChecksOnlyTheTouchedFields(t *testing.T) {
	tiers := polybot.DefaultTiers()
	pro := polybot.NewProfile(polybot.NewID(), "a@example.com", &tiers[2], time.Unix(0, 0))
	cur := polybot.DefaultConfig(pro.ID, time.Unix(0, 0))
	cur, err := cur.ApplyPatch([]byte(`{"enable_copy_trading": true, "max_trade_size_usd": 900}`), pro)
	if err != nil {
		t.Fatal(err)
	}
	free := polybot.NewProfile(pro.ID, "a@example.com", &tiers[0], time.Unix(0, 0))
	// Unrelated changes still go through on the smaller plan.
	if _, err := cur.ApplyPatch([]byte(`{"dry_run": false}`), free); err != nil {
		t.Fatalf("unrelated change refused after a downgrade: %v", err)
	}
	// Touching the out-of-plan settings is checked against the new plan.
	for field, body := range map[string]string{
		"enable_copy_trading": `{"enable_copy_trading": true}`,
		"max_trade_size_usd":  `{"max_trade_size_usd": 800}`,
	} {
		_, err := cur.ApplyPatch([]byte(body), free)
		if _, ok := polybot.ErrorFields(err)[field]; !ok {
			t.Errorf("%s: %v, want a field error", body, err)
		}
	}
	if err := cur.Validate(free); err == nil {
		t.Error("full validation passes a config beyond the plan")
	}
}
