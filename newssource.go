package polybot

import "context"

// NewsSource delivers headlines as they arrive; Run returns when ctx ends.
// A feed poller and a webhook receiver are sources; sink may be called from
// several goroutines of one source, and must not keep the Headline's
// backing memory beyond the call (it is a value).
type NewsSource interface {
	Run(ctx context.Context, sink func(Headline)) error
}
