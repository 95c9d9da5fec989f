package web

import (
	"slices"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// The Notifications page: which events the user hears about, the
// destinations (with verification, a test send, and each event type on or
// off), and the delivery log with failures and their reasons.

// NotifyData is the Notifications page's data.
type NotifyData struct {
	Available                 bool // the server has a notifier
	Flash                     string
	OnTrade, OnOpp, OnSummary bool
	Timezone                  string
	Channels                  []Switch
	Events                    []Choice // every event type a destination can take
	Destinations              []DestinationRow
	Deliveries                []DeliveryRow
	AlwaysSent                []string
}

// Switch is a named on/off choice.
type Switch struct {
	Value, Label string
	On           bool
}

// DestinationRow is one destination as the page lists it.
type DestinationRow struct {
	ID, Channel, Name, Target string
	Enabled, Verified         bool
	NeedsCode                 bool // email or Telegram, waiting for its code
	Events                    []Switch
	Created                   time.Time
}

// DeliveryRow is one line of the delivery log.
type DeliveryRow struct {
	ID                                     int64
	Destination, Event, State, Key, Reason string
	Attempts                               int
	Created, Next                          time.Time
	Delivered                              *time.Time
}

// EventLabel names an event type for people.
func EventLabel(typ string) string {
	switch typ {
	case polybot.NotifyTrade:
		return "Trades"
	case polybot.NotifyOpportunity:
		return "Opportunities (digest)"
	case polybot.NotifyDailySummary:
		return "Daily summary"
	case polybot.NotifyBotRefused:
		return "Bot refused"
	case polybot.NotifyBotHalted:
		return "Bot halted"
	case polybot.NotifyUnwindFailed:
		return "Unwind failed"
	case polybot.NotifyNakedPosition:
		return "Naked position"
	case polybot.NotifyBilling:
		return "Billing"
	case polybot.NotifyTest:
		return "Test"
	}
	return typ
}

// NewNotifyData builds the page's data.
func NewNotifyData(c *polybot.Config, ds []*polybot.NotifyDestination, log []*polybot.NotifyDelivery, flash string, available bool) NotifyData {
	d := NotifyData{Available: available, Flash: flash, OnTrade: c.NotifyOnTrade, OnOpp: c.NotifyOnOpportunity,
		OnSummary: c.NotifyDailySummary, Timezone: c.Timezone}
	for _, ch := range polybot.NotificationChannels {
		d.Channels = append(d.Channels, Switch{Value: ch, Label: strings.ToUpper(ch[:1]) + ch[1:], On: slices.Contains(c.NotificationChannels, ch)})
	}
	for _, e := range polybot.NotifyEvents {
		d.Events = append(d.Events, Choice{Value: e, Label: EventLabel(e)})
		if polybot.AlwaysNotified(e) {
			d.AlwaysSent = append(d.AlwaysSent, EventLabel(e))
		}
	}
	names := map[string]string{}
	for _, x := range ds {
		names[x.ID] = x.Name
		row := DestinationRow{ID: x.ID, Channel: x.Channel, Name: x.Name, Target: x.Target, Enabled: x.Enabled, Verified: x.Verified(),
			NeedsCode: !x.Verified() && x.VerifyHash != "", Created: x.CreatedAt}
		for _, e := range polybot.NotifyEvents {
			row.Events = append(row.Events, Switch{Value: e, Label: EventLabel(e), On: x.Wants(e)})
		}
		d.Destinations = append(d.Destinations, row)
	}
	for _, x := range log {
		name := names[x.DestinationID]
		if name == "" {
			name = x.DestinationID
		}
		d.Deliveries = append(d.Deliveries, DeliveryRow{ID: x.ID, Destination: name, Event: EventLabel(x.Event), State: x.State,
			Key: x.Key, Reason: x.LastError, Attempts: x.Attempts, Created: x.CreatedAt, Next: x.NextAt, Delivered: x.DeliveredAt})
	}
	return d
}
