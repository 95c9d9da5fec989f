package notify

import "github.com/polybot/polybot"

// SetBeforeClaim makes d call f with each batch after reading it and
// before claiming it, so that a test can make two dispatchers' claims of
// the same deliveries overlap.
func SetBeforeClaim(d *Dispatcher, f func([]polybot.NotifyDue)) { d.beforeClaim = f }
